/**
 * Faults of comparing runs, through `bin/hilt.js`: whatever is wrong with a run to compare (not
 * there, cut off before its results.json, not JSON, another schema, not results, a FIFO) is one
 * line on stderr naming the path and the fix, exit 2, nothing on stdout, and no hang.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { loadResults } from '../../harness/compare/load.ts';
import { hilt, rejection, tempDir } from '../helpers.ts';

const VALID = {
  schema: 1,
  run: { id: '2026-12-01T05-00-00Z-0001', startedAt: '2026-12-01T05:00:00.000Z', firmware: null },
  scenarios: [{ id: 'a/x', title: 'x', outcome: 'passed', metrics: [{ name: 'tls_ms', unit: 'ms', values: [1000], median: 1000 }] }],
};

describe('fault catalogue: compare', function () {
  this.timeout(30_000);
  let dir: string;
  let remove: () => Promise<void>;
  let good: string;

  before(async function () {
    ({ dir, remove } = await tempDir('hilt-compare-faults-'));
    good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify(VALID));
  });
  after(() => remove());

  /**
   * Refused by the loader in one line; `cli`: also by `hilt compare` as the baseline and as the
   * run (a child process each, so only for some: each costs hilt's start-up).
   */
  async function refused(bad: string, message: RegExp, cli = false): Promise<void> {
    const err = await rejection(loadResults(bad));
    expect(err).to.be.instanceOf(UsageError);
    expect(`hilt: ${err.message}`).to.match(message).and.not.include('\n');
    if (!cli) return;
    for (const args of [['compare', good, bad], ['compare', bad, good]]) {
      const { code, stdout, stderr } = await hilt(args, { cwd: dir });
      expect(code, stderr).to.equal(2);
      expect(stdout).to.equal('');
      expect(stderr).to.match(message);
      expect(stderr.trimEnd().split('\n'), stderr).to.have.length(1);
    }
  }

  it('a path that does not exist', async function () {
    await refused(join(dir, 'nothere'), /^hilt: .*nothere: no such file or folder: give a run's results\.json or its report folder/, true);
  });

  it('a path with a line break in it: still one line', async function () {
    await refused(join(dir, 'two\nlines'), /^hilt: .*two\\nlines: no such file or folder/);
  });

  it('a report folder without results.json (a run cut off before its end)', async function () {
    const run = join(dir, 'reports', '2026-12-01T05-00-00Z-dead');
    await mkdir(join(run, 'console'), { recursive: true });
    await refused(run, /^hilt: .*2026-12-01T05-00-00Z-dead: no results\.json in this folder: give the report folder of a run that finished/);
  });

  it('a reports folder stands for its latest run (as in hilt merge); without a finished one it is refused', async function () {
    const root = join(dir, 'reports-root');
    await mkdir(join(root, '2026-12-01T05-00-00Z-0001'), { recursive: true });
    await writeFile(join(root, '2026-12-01T05-00-00Z-0001', 'results.json'), JSON.stringify(VALID));
    await symlink('2026-12-01T05-00-00Z-0001', join(root, 'latest'));
    expect((await loadResults(root)).results.run.id).to.equal(VALID.run.id);
    await mkdir(join(root, '2026-12-01T05-01-00Z-0002'));
    await rm(join(root, 'latest'));
    await symlink('2026-12-01T05-01-00Z-0002', join(root, 'latest'));
    await refused(root, /^hilt: .*reports-root: no results\.json in this folder: /);
  });

  it('a file that is not JSON, with a line break and a terminal escape near the mistake', async function () {
    const bad = join(dir, 'torn.json');
    await writeFile(bad, '{"schema": 1,\n"run": \u001b[2J');
    await refused(bad, /^hilt: .*torn\.json: not valid JSON \(.*\): give a results\.json that hilt wrote, whole$/m, true);
  });

  it('a results.json of another schema', async function () {
    const bad = join(dir, 'future.json');
    await writeFile(bad, JSON.stringify({ ...VALID, schema: 2 }));
    await refused(bad, /^hilt: .*future\.json: results schema 2, this hilt reads schema 1: read it with the hilt version that wrote it$/m);
  });

  it('JSON that is not a run\'s results: names the first field that is wrong', async function () {
    const bad = join(dir, 'config.json');
    await writeFile(bad, JSON.stringify({ target: 'emulator' }));
    await refused(bad, /^hilt: .*config\.json: not a hilt results\.json \(schema: .*\): give the results\.json of a hilt run$/m);
    const values = join(dir, 'values.json');
    await writeFile(values, JSON.stringify({ ...VALID, scenarios: [{ ...VALID.scenarios[0], metrics: [{ ...VALID.scenarios[0]!.metrics[0], values: [1000, 'slow'] }] }] }));
    await refused(values, /^hilt: .*values\.json: not a hilt results\.json \(scenarios\[0\]\.metrics\[0\]\.values\[1\]: /m);
    const nul = join(dir, 'null.json');
    await writeFile(nul, 'null');
    await refused(nul, /^hilt: .*null\.json: not a hilt results\.json \(\(top level\): /m);
  });

  it('a named pipe: refused at once, never read (a read would block)', async function () {
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    await refused(fifo, /^hilt: .*fifo\.json: not a regular file: give a run's results\.json or its report folder$/m, true);
  });

  it('hilt compare with one run, or three: usage, exit 2', async function () {
    expect((await hilt(['compare', good], { cwd: dir })).code).to.equal(2);
    expect((await hilt(['compare', good, good, good], { cwd: dir })).code).to.equal(2);
  });

  it('a config whose budgets are wrong stops hilt compare too (they would be judged)', async function () {
    const cwd = join(dir, 'with-config');
    await mkdir(cwd);
    await writeFile(join(cwd, 'hilt.config.json'), JSON.stringify({ budgets: { tls_ms: '<= baseline + 10 KiB' } }));
    const { code, stderr } = await hilt(['compare', good, good], { cwd });
    expect(code).to.equal(2);
    expect(stderr).to.equal('hilt: hilt.config.json: budgets.tls_ms: KiB does not measure tls_ms (a time)\n');
  });

  it('hilt run --baseline that cannot be read: exit 2 before anything starts (no report folder)', async function () {
    const cwd = join(dir, 'run');
    await mkdir(cwd);
    const { code, stderr } = await hilt(['run', '--baseline', join(dir, 'torn.json')], { cwd });
    expect(code).to.equal(2);
    expect(stderr).to.match(/^hilt: .*torn\.json: not valid JSON/);
    expect(existsSync(join(cwd, 'reports'))).to.equal(false);
    expect(existsSync(join(cwd, 'certs'))).to.equal(false);
  });
});
