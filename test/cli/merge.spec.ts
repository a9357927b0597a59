/**
 * Sharded CI, end to end through bin/hilt.js: the emulator catalogue (plus one scenario that
 * fails) run whole and as two shards, the shards merged; the merged report holds the same
 * scenarios with the same outcomes, and every step exits as it should.
 */
import { expect } from 'chai';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { shardOf } from '../../harness/run/shard.ts';
import type { RunResults } from '../../harness/report/model.ts';
import { REPO, hilt, tempDir, writeScenario } from '../helpers.ts';

const read = async (path: string): Promise<RunResults> => JSON.parse(await readFile(path, 'utf8')) as RunResults;
const outcomes = (r: RunResults) => Object.fromEntries(r.scenarios.map((s) => [s.id, s.outcome]));

describe('hilt run --shard and hilt merge', function () {
  this.timeout(180_000);
  let dir: string;
  let remove: () => Promise<void>;
  /** The first test's scenario files and full run, which the others compare with. */
  let files: string[];
  let whole: RunResults;

  before(async function () {
    ({ dir, remove } = await tempDir('hilt-merge-'));
  });
  after(() => remove());

  it('two shards merged are the full run: the same scenario ids and outcomes, and the same exit status', async function () {
    const failing = await writeScenario(dir, 'fails.spec.ts', `
describe('a scenario that expects the impossible', () => {
  scenario('expects a wrong CA to be accepted', async (ctx) => {
    expect(await ctx.connect('rogue')).to.be.connected();
  });
});`);
    files = [join(REPO, 'scenarios'), failing];
    const full = await hilt(['run', ...files, '--report-dir', 'full'], { cwd: dir, timeoutMs: 90_000 });
    expect(full.code, full.stderr).to.equal(1);
    whole = await read(join(dir, 'full', 'latest', 'results.json'));
    expect(whole.scenarios.length).to.be.greaterThan(10);
    const failed = whole.scenarios.filter((s) => s.outcome === 'failed').map((s) => s.id);
    expect(failed).to.deep.equal(['fails/a-scenario-that-expects-the-impossible-expects-a-wrong-ca-to-be-accepted']);

    const parts: RunResults[] = [];
    for (const index of [1, 2]) {
      const shard = await hilt(['run', ...files, '--shard', `${index}/2`, '--report-dir', `shard-${index}`], { cwd: dir, timeoutMs: 90_000 });
      // The shard that holds the failing scenario fails; the other passes.
      expect(shard.code, shard.stderr).to.equal(shardOf(failed[0]!, 2) === index ? 1 : 0);
      const r = await read(join(dir, `shard-${index}`, 'latest', 'results.json'));
      expect(r.run.shard).to.deep.equal({ index, count: 2 });
      expect(r.scenarios.every((s) => shardOf(s.id, 2) === index)).to.equal(true);
      parts.push(r);
    }
    // Both shards ran something: the catalogue does not fall into one of them.
    expect(parts.every((r) => r.scenarios.length > 0)).to.equal(true);

    const merge = await hilt(['merge', 'shard-1/latest', 'shard-2/latest/results.json', '--out', 'merged/ci'], { cwd: dir, timeoutMs: 30_000 });
    expect(merge.code, merge.stderr).to.equal(1);
    expect(merge.stdout).to.include(`merged 2 runs: ${whole.totals.passed} passed, 1 failed, 0 errors, 0 skipped`);
    const merged = await read(join(dir, 'merged', 'ci', 'results.json'));
    expect(outcomes(merged)).to.deep.equal(outcomes(whole));
    expect(merged.totals).to.deep.equal(whole.totals);
    expect(merged.run.mergedFrom).to.deep.equal(parts.map((r) => r.run.id));
    expect(merged.run.startedAt).to.equal(parts[0]!.run.startedAt);
    expect(merged.run.endedAt).to.equal(parts[1]!.run.endedAt);

    // Every view is written, and each console log the merged report names is there.
    const junit = await readFile(join(dir, 'merged', 'ci', 'junit.xml'), 'utf8');
    expect(junit).to.match(new RegExp(`<testsuites name="hilt" tests="${whole.scenarios.length}" failures="1" errors="0"`));
    expect(await readFile(join(dir, 'merged', 'ci', 'summary.md'), 'utf8')).to.include('1 failed');
    for (const s of merged.scenarios) {
      expect(s.consoleLog, s.id).to.match(/^runs\/[^/]+\/console\//);
      expect((await stat(join(dir, 'merged', 'ci', s.consoleLog!))).size, s.consoleLog!).to.be.greaterThan(0);
    }
    // A folder of one's own gets no `latest` beside it (that could be an input's).
    expect(await readdir(join(dir, 'merged'))).to.deep.equal(['ci']);
  });

  it('the passing shard alone is a merged run cut short (the other shard missing), exit 1; the same shard twice is refused naming both', async function () {
    const passing = [1, 2].find((i) => shardOf('fails/a-scenario-that-expects-the-impossible-expects-a-wrong-ca-to-be-accepted', 2) !== i)!;
    // Without --out: into reports/<new id>, with reports/latest pointing at it, as after a run.
    const alone = await hilt(['merge', `shard-${passing}/latest`], { cwd: dir });
    expect(alone.code, alone.stderr).to.equal(1);
    expect(alone.stdout).to.include(`(cut short: not every shard was merged: ${3 - passing}/2 missing)`);
    const latest = await readlink(join(dir, 'reports', 'latest'));
    expect((await read(join(dir, 'reports', latest, 'results.json'))).run.id).to.equal(latest);
    const twice = await hilt(['merge', `shard-${passing}/latest`, `shard-${passing}/latest/results.json`, '--out', 'twice'], { cwd: dir });
    expect(twice.code).to.equal(2);
    expect(twice.stderr).to.match(new RegExp(`^hilt: scenario ".+" is in both shard-${passing}/latest and shard-${passing}/latest/results\\.json: merge each shard once`));
    expect(twice.stderr.trim().split('\n')).to.have.length(1);
  });

  it('a shard run on two emulated boards merges with a one-board shard into the full run', async function () {
    const boards = await hilt(['run', ...files, '--shard', '1/2', '--target', 'emulator', '--target', 'emulator', '--report-dir', 'boards-1'], { cwd: dir, timeoutMs: 90_000 });
    expect(boards.code, boards.stderr).to.be.oneOf([0, 1]);
    const merge = await hilt(['merge', 'boards-1', 'shard-2', '--out', 'with-boards'], { cwd: dir, timeoutMs: 30_000 });
    expect(merge.code, merge.stderr).to.equal(1);
    const merged = await read(join(dir, 'with-boards', 'results.json'));
    expect(outcomes(merged)).to.deep.equal(outcomes(whole));
    expect(merged.run.boards!.map((b) => b.id)).to.deep.equal(['b1', 'b2']);
    const onBoards = merged.scenarios.filter((s) => s.board);
    expect(onBoards.length).to.be.greaterThan(0);
    for (const s of onBoards) {
      expect(s.consoleLog, s.id).to.match(/^runs\/[^/]+\/b[12]\/console\//);
      expect((await stat(join(dir, 'with-boards', s.consoleLog!))).size, s.consoleLog!).to.be.greaterThan(0);
    }
  });
});
