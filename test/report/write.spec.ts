/** A run's reports on disk: three whole files, `latest` moved after them, failures said plainly. */
import { expect } from 'chai';
import { lstat, mkdir, readFile, readdir, readlink, realpath, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { prepareRunDir, ReportWriteError } from '../../harness/report/index.ts';
import { newRunId, RESULTS_SCHEMA, writeReports } from '../../harness/report/index.ts';
import { tempDir } from '../helpers.ts';
import { parseXml } from './xml.ts';
import { runResults } from './fixtures.ts';

/** Every leftover temporary file under `dir` (writeFileAtomic's and the link's). */
async function temporaries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('.tmp'));
}

describe('writing reports', function () {
  let root: string;
  let remove: () => Promise<void>;

  beforeEach(async function () {
    ({ dir: root, remove } = await tempDir('hilt-report-'));
  });
  afterEach(() => remove());

  it('writes results.json, junit.xml and summary.md into the run dir and points latest at it', async function () {
    const results = runResults();
    results.scenarios[0]!.warnings = ['strictly exponential backoff (no jitter)'];
    const runDir = join(root, results.run.id);
    const paths = await writeReports(results, runDir, root);

    expect(paths).to.deep.equal({
      results: join(runDir, 'results.json'),
      junit: join(runDir, 'junit.xml'),
      summary: join(runDir, 'summary.md'),
      html: join(runDir, 'report.html'),
    });
    const json = JSON.parse(await readFile(paths.results, 'utf8'));
    expect(json.schema).to.equal(RESULTS_SCHEMA).and.to.equal(1);
    expect(Object.keys(json)[0]).to.equal('schema');
    expect(json).to.deep.equal(JSON.parse(JSON.stringify(results)));
    expect(json.scenarios[0].warnings).to.deep.equal(['strictly exponential backoff (no jitter)']);
    expect(await readFile(paths.results, 'utf8')).to.include('\n  "run": {');
    expect(parseXml(await readFile(paths.junit, 'utf8')).attrs.tests).to.equal('4');
    expect(await readFile(paths.summary, 'utf8')).to.match(/^# sensor-node 1\.4\.2/);

    const latest = join(root, 'latest');
    expect((await lstat(latest)).isSymbolicLink()).to.equal(true);
    expect(await readlink(latest)).to.equal(results.run.id);
    expect(await realpath(latest)).to.equal(await realpath(runDir));
    expect(await temporaries(root)).to.deep.equal([]);
  });

  it('moves latest to the next run, leaving the earlier run in place', async function () {
    const first = join(root, 'runs', 'a');
    const second = join(root, 'runs', 'b');
    await writeReports(runResults({ id: 'a' }), first, root);
    await writeReports(runResults({ id: 'b' }), second, root);
    expect(await readlink(join(root, 'latest'))).to.equal(join('runs', 'b'));
    expect(JSON.parse(await readFile(join(root, 'latest', 'results.json'), 'utf8')).run.id).to.equal('b');
    expect(JSON.parse(await readFile(join(first, 'results.json'), 'utf8')).run.id).to.equal('a');
    expect((await readdir(root)).sort()).to.deep.equal(['latest', 'runs']);
  });

  it('rejects with the path and the reason when the run dir cannot be made, leaving no temporary files', async function () {
    const blocker = join(root, 'not-a-dir');
    await writeFile(blocker, 'a regular file\n');
    const runDir = join(blocker, 'run-1');
    const err = await writeReports(runResults(), runDir, root).then(() => null, (e: unknown) => e);
    // Found while the run went on (the run's folder was tried before it began): exit 3.
    expect(err).to.be.instanceOf(ReportWriteError).and.include({ exitCode: 3 });
    expect((err as Error).message).to.include(runDir).and.match(/ENOTDIR|EEXIST/);
    expect(await temporaries(root)).to.deep.equal([]);
    expect(await readdir(root)).to.deep.equal(['not-a-dir']);
  });

  it('refuses to replace a latest that is a real directory, and says so', async function () {
    await mkdir(join(root, 'latest'));
    const err = await writeReports(runResults(), join(root, 'r'), root).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(ReportWriteError);
    expect((err as Error).message).to.include('is not a link').and.include(join(root, 'r'));
    expect(await temporaries(root)).to.deep.equal([]);
    expect(await readFile(join(root, 'r', 'results.json'), 'utf8')).to.include('"schema": 1');
  });

  it('prepares a run dir before the run: made with its subfolders, no probe left, latest moved to it at once', async function () {
    await writeReports(runResults({ id: 'old' }), join(root, 'old'), root);
    const runDir = join(root, 'new');
    await prepareRunDir(runDir, root, ['console']);
    expect(await readdir(runDir)).to.deep.equal(['console']);
    // latest names the new run from its start: a reader finds no results.json, not the old run's.
    expect(await readlink(join(root, 'latest'))).to.equal('new');
    expect(await temporaries(root)).to.deep.equal([]);
  });

  it('refuses a run dir that cannot exist as a usage error, at once (also under /proc)', async function () {
    await writeFile(join(root, 'file'), 'x\n');
    for (const runDir of [join(root, 'file', 'run'), '/proc/hilt-reports/run']) {
      const err = await prepareRunDir(runDir, dirname(runDir)).then(() => null, (e: unknown) => e);
      expect(err, runDir).to.be.instanceOf(UsageError);
      expect((err as Error).message).to.match(/^cannot create \S+ \((ENOTDIR|ENOENT)\): .*--report-dir$/);
    }
  });

  it('names runs by UTC time, filesystem-safe, sortable and distinct', function () {
    const id = newRunId(new Date('2026-11-23T02:51:07.250Z'));
    expect(id).to.match(/^2026-11-23T02-51-07Z-[0-9a-f]{4}$/);
    expect(newRunId(new Date('2026-11-23T02:51:08Z')) > id).to.equal(true);
    expect(newRunId(new Date('2026-11-23T10:00:00Z')) > newRunId(new Date('2026-11-23T09:59:59Z'))).to.equal(true);
    const same = new Set(Array.from({ length: 20 }, () => newRunId(new Date(0))));
    expect(same.size).to.be.greaterThan(15);
    expect(newRunId()).to.not.match(/[:/\\ ]/);
  });
});
