/**
 * `hilt merge` and `hilt run --shard` given what CI jobs get wrong: a missing artifact, a run that
 * never wrote its results.json, a corrupt or foreign JSON file, runs of two firmware builds, an
 * --out that would overwrite a report. Each: one line naming the input, exit 2, nothing written.
 */
import { expect } from 'chai';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { join } from 'node:path';
import { toResultsJson } from '../../harness/report/write.ts';
import type { RunResults } from '../../harness/report/model.ts';
import { HILT_BIN, hilt, run, tempDir } from '../helpers.ts';
import { runResults, scenarios } from '../report/fixtures.ts';
import { expectOneCleanLine } from './helpers.ts';

async function report(dir: string, name: string, results: RunResults): Promise<string> {
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(join(dir, name, 'results.json'), toResultsJson(results));
  return name;
}

describe('hilt merge: bad inputs', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  const all = scenarios();

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-merge-faults-'));
    await report(dir, 'a', runResults({ id: 'run-a' }, [all[0]!, all[1]!]));
    await report(dir, 'b', runResults({ id: 'run-b' }, [all[2]!]));
  });
  afterEach(() => remove());

  /** Runs the merge and checks the refusal: exit 2, one clean line matching `line`, no out folder. */
  async function refused(args: string[], line: RegExp): Promise<void> {
    const { code, stderr, stdout } = await hilt(['merge', ...args, '--out', 'out'], { cwd: dir });
    expect(code, stderr + stdout).to.equal(2);
    expectOneCleanLine(stderr);
    expect(stderr, stderr).to.match(line);
    expect(await readdir(dir)).to.not.include('out');
  }

  it('a report folder that does not exist', async function () {
    await refused(['a', 'shard-2'], /^hilt: shard-2: no such file or folder: give a run's results\.json or its report folder/);
  });

  it('a folder without results.json (a run that never finished)', async function () {
    await mkdir(join(dir, 'half'));
    await writeFile(join(dir, 'half', 'junit.xml'), '<testsuites/>');
    await refused(['a', 'half'], /^hilt: half: no results\.json in this folder/);
  });

  it('a results.json that is not JSON, and JSON that is not a run', async function () {
    await mkdir(join(dir, 'torn'));
    await writeFile(join(dir, 'torn', 'results.json'), '{"schema": 1, "run": {"id": "x"');
    await refused(['a', 'torn'], /^hilt: torn\/results\.json: not valid JSON \(/);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'not-a-run' }));
    await refused(['a', 'package.json'], /^hilt: package\.json: not a hilt results\.json \(schema: /);
    await writeFile(join(dir, 'torn', 'results.json'), JSON.stringify({ ...runResults(), scenarios: [{ ...all[0]!, outcome: 'green' }] }));
    await refused(['a', 'torn'], /^hilt: torn\/results\.json: not a hilt results\.json \(scenarios\[0\]\.outcome: /);
    // What hilt compare does not read, but a merge does.
    const results = runResults();
    await writeFile(join(dir, 'torn', 'results.json'), JSON.stringify({ ...results, run: { ...results.run, warnings: 'none' } }));
    await refused(['a', 'torn'], /^hilt: torn: not a hilt results\.json \(run\.warnings is not a list\)/);
  });

  it('a results.json of another schema', async function () {
    await writeFile(join(dir, 'b', 'results.json'), JSON.stringify({ ...runResults({ id: 'run-b' }, []), schema: 7 }));
    await refused(['a', 'b'], /^hilt: b\/results\.json: results schema 7, this hilt reads schema 1/);
  });

  it('runs of two firmware builds: refused, and merged with --force and a warning', async function () {
    const other = runResults({ id: 'run-c' }, [all[3]!]);
    other.run.firmware = { ...other.run.firmware!, version: '1.5.0' };
    await report(dir, 'c', other);
    await refused(['a', 'c'], /^hilt: a and c tested different firmware \(sensor-node 1\.4\.2 and sensor-node 1\.5\.0\): merge runs of one build, or pass --force$/m);
    const forced = await hilt(['merge', 'a', 'c', '--out', 'out', '--force'], { cwd: dir });
    // The fixture's a holds a failed scenario: exit 1, as that run had.
    expect(forced.code, forced.stderr).to.equal(1);
    expect(forced.stderr).to.include('hilt: warning: merged with --force: a and c tested different firmware');
    const merged = JSON.parse(await readFile(join(dir, 'out', 'results.json'), 'utf8')) as RunResults;
    expect(merged.scenarios.map((s) => s.id)).to.have.length(3);
  });

  it('--out onto an earlier report or onto an input is refused; the reports stay as they were', async function () {
    const before = await readFile(join(dir, 'a', 'results.json'), 'utf8');
    const onto = await hilt(['merge', 'a', 'b', '--out', 'a'], { cwd: dir });
    expect(onto.code).to.equal(2);
    expectOneCleanLine(onto.stderr);
    expect(onto.stderr).to.match(/^hilt: --out a is one of the reports being merged/);
    await report(dir, 'old', runResults({ id: 'old' }, []));
    const over = await hilt(['merge', 'a', 'b', '--out', 'old'], { cwd: dir });
    expect(over.code).to.equal(2);
    expect(over.stderr).to.match(/^hilt: --out old holds a report already/);
    expect(await readFile(join(dir, 'a', 'results.json'), 'utf8')).to.equal(before);
  });

  it('console logs a results.json names outside its folder are not copied', async function () {
    const escaping = runResults({ id: 'run-e' }, [{ ...all[3]!, consoleLog: '../../../etc/passwd' }]);
    await report(dir, 'e', escaping);
    const { code, stderr } = await hilt(['merge', 'e', '--out', 'out'], { cwd: dir });
    expect(code, stderr).to.equal(0);
    expect(stderr).to.include('hilt: warning: 1 console log not copied (missing beside its results.json, outside its run\'s folder, or a link)');
    const merged = JSON.parse(await readFile(join(dir, 'out', 'results.json'), 'utf8')) as RunResults;
    expect(merged.scenarios[0]!.consoleLog).to.equal(null);
    expect(await readdir(join(dir, 'out'))).to.not.include('etc');
  });

  it('a console log that is a link out of its run folder is not copied', async function () {
    await report(dir, 'l', runResults({ id: 'run-l' }, [{ ...all[3]!, consoleLog: 'console/x.log' }]));
    await mkdir(join(dir, 'l', 'console'));
    await symlink('/etc/passwd', join(dir, 'l', 'console', 'x.log'));
    const { code, stderr } = await hilt(['merge', 'l', '--out', 'out'], { cwd: dir });
    expect(code, stderr).to.equal(0);
    expect(stderr).to.include('hilt: warning: 1 console log not copied (missing beside its results.json, outside its run\'s folder, or a link)');
    const merged = JSON.parse(await readFile(join(dir, 'out', 'results.json'), 'utf8')) as RunResults;
    expect(merged.scenarios[0]!.consoleLog).to.equal(null);
    expect(await readdir(join(dir, 'out'))).to.not.include('runs');
  });

  it('a reports folder as a CI artifact gives it: latest as a link or lost, one run; two runs and no latest is refused', async function () {
    // shard-1: latest a link, beside an older run; shard-2: latest lost on the way, one run.
    await report(dir, 'shard-1/old', runResults({ id: 'old' }, [all[0]!]));
    await report(dir, 'shard-1/new', runResults({ id: 'new-1' }, [all[1]!]));
    await symlink('new', join(dir, 'shard-1', 'latest'));
    await report(dir, 'shard-2/run-2', runResults({ id: 'new-2' }, [all[3]!]));
    const ok = await hilt(['merge', 'shard-1', 'shard-2', '--out', 'out'], { cwd: dir });
    expect(ok.code, ok.stderr).to.equal(1); // the fixture's new-1 holds a failed scenario
    const merged = JSON.parse(await readFile(join(dir, 'out', 'results.json'), 'utf8')) as RunResults;
    expect(merged.run.mergedFrom).to.deep.equal(['new-1', 'new-2']);
    await rm(join(dir, 'shard-1', 'latest'));
    await rm(join(dir, 'out'), { recursive: true });
    await refused(['shard-1'], /^hilt: shard-1 holds 2 runs and no latest: name the ones to merge \(shard-1\/(new|old), shard-1\/(new|old)\)$/m);
  });

  it('a shard set with a gap (a shard machine died before writing its report): cut short, exit 1', async function () {
    const passed = all.find((s) => s.outcome === 'passed')!;
    await report(dir, 's1', runResults({ id: 'run-s1', shard: { index: 1, count: 3 } }, [passed]));
    await report(dir, 's3', runResults({ id: 'run-s3', shard: { index: 3, count: 3 } }, []));
    const { code, stdout, stderr } = await hilt(['merge', 's1', 's3', '--out', 'out'], { cwd: dir });
    expect(code, stderr).to.equal(1);
    expect(stdout).to.include('merged 2 runs: 1 passed, 0 failed, 0 errors, 0 skipped (cut short: not every shard was merged: 2/3 missing)');
    const merged = JSON.parse(await readFile(join(dir, 'out', 'results.json'), 'utf8')) as RunResults;
    expect(merged.run.cutShort).to.equal('not every shard was merged: 2/3 missing');
  });

  it('a console log that is a FIFO: one line naming it, exit 2, no output folder left', async function () {
    await report(dir, 'f', runResults({ id: 'run-f' }, [{ ...all[3]!, consoleLog: 'console/x.log' }]));
    await mkdir(join(dir, 'f', 'console'));
    const made = await run('mkfifo', [join(dir, 'f', 'console', 'x.log')]);
    expect(made.code, made.stderr).to.equal(0);
    // a comes first: its files are copied before the FIFO is met.
    await refused(['a', 'f'], /^hilt: f\/console\/x\.log: not a regular file \(a FIFO\), it cannot be copied into the merged report: /);
    expect((await readdir(dir)).filter((name) => name.includes('out'))).to.deep.equal([]);
    // Without --out: no reports/<id> is left half-written, for retention never to remove.
    const { code, stderr } = await hilt(['merge', 'a', 'f'], { cwd: dir });
    expect(code, stderr).to.equal(2);
    expectOneCleanLine(stderr);
    expect(await readdir(join(dir, 'reports')).catch(() => [])).to.deep.equal([]);
  });

  it('Ctrl-C while the run files are copied: exit 130, one line, no output folder nor hidden one left', async function () {
    // A board folder of many logs, so the copy is under way when the signal comes.
    const boardDir = join(dir, 'big', 'boards', 'b1');
    await mkdir(boardDir, { recursive: true });
    for (let k = 0; k < 3000; k += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => writeFile(join(boardDir, `${k + j}.log`), 'I (1) boot: ESP-IDF v5.2.1\n')));
    }
    const big = runResults({ id: 'run-big' }, [{ ...all[3]!, board: 'b1', consoleLog: null }]);
    big.run.boards = [{ id: 'b1', target: 'emulator', deviceId: 'dev-1', firmware: null, dir: 'boards/b1', infrastructureError: null }];
    await report(dir, 'big', big);

    const child = spawn(process.execPath, [HILT_BIN, 'merge', 'big', '--out', 'out'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    // Interrupted the moment its hidden build folder appears.
    const watcher = watch(dir, (_event, name) => {
      if (name?.startsWith('.out.merging-')) child.kill('SIGINT');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(resolve, 30_000, 'timeout').unref())]).finally(() => watcher.close());
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code, stderr).to.equal(130);
    expectOneCleanLine(stderr);
    expect(stderr).to.match(/^hilt: interrupted \(SIGINT\): nothing merged, out not written$/m);
    expect((await readdir(dir)).filter((name) => name.includes('out'))).to.deep.equal([]);
  });

  it('no report given', async function () {
    const { code, stderr } = await hilt(['merge'], { cwd: dir });
    expect(code).to.equal(2);
    expectOneCleanLine(stderr.replace(/^error:/, 'hilt:'));
  });
});
