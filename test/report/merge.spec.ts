/** Merging shards: one report with every scenario once, the run's span, and refusals that name both runs. */
import { expect } from 'chai';
import { UsageError } from '../../harness/errors.ts';
import { mergeResults } from '../../harness/report/merge.ts';
import { RESULTS_SCHEMA, targetsOf, type RunResults } from '../../harness/report/model.ts';
import { toReportHtml } from '../../harness/report/html.ts';
import { toSummaryMarkdown } from '../../harness/report/summary.ts';
import { boardsRun, runResults, scenarios } from './fixtures.ts';

/** The fixture catalogue split in two, as two CI machines would have run it. */
function shards(): [RunResults, RunResults] {
  const all = scenarios();
  const a = runResults({
    id: 'run-a', startedAt: '2026-11-23T02:51:07.250Z', endedAt: '2026-11-23T02:51:21.385Z', durationMs: 14135,
    shard: { index: 1, count: 2 }, warnings: ['lab key mode drifted'], repeat: 5,
  }, [all[0]!, all[2]!]);
  const b = runResults({
    id: 'run-b', startedAt: '2026-11-23T02:50:59.000Z', endedAt: '2026-11-23T02:51:10.000Z', durationMs: 11000,
    shard: { index: 2, count: 2 }, warnings: ['lab key mode drifted'], repeat: 5,
  }, [all[3]!, all[1]!]);
  return [a, b];
}

/** Two shards each run on two boards (b1, b2): the board ids repeat from one run to the other. */
function twoBoardShards(): [RunResults, RunResults] {
  const [w, x, y, z] = scenarios();
  const board = (id: string, deviceId: string) => ({ id, target: 'emulator', deviceId, firmware: null, dir: `boards/${id}`, infrastructureError: null });
  const a = runResults({ id: 'run-a', startedAt: '2026-11-23T02:50:00.000Z', shard: { index: 1, count: 2 }, boards: [board('b1', 'dev-a1'), board('b2', 'dev-a2')] },
    [{ ...w!, board: 'b1' }, { ...y!, board: 'b2' }]);
  const b = runResults({ id: 'run-b', startedAt: '2026-11-23T02:51:00.000Z', shard: { index: 2, count: 2 }, boards: [board('b1', 'dev-b1'), board('b2', 'dev-b2')] },
    [{ ...z!, board: 'b1' }, { ...x!, board: 'b2' }]);
  return [a, b];
}

describe('mergeResults', function () {
  it('holds every scenario once, sorted by key, with totals recounted', function () {
    const merged = mergeResults(shards());
    expect(merged.schema).to.equal(RESULTS_SCHEMA);
    expect(merged.scenarios.map((s) => s.id)).to.deep.equal(['01-valid-server', '05-handshake-budget', '07-low-heap', '09-tls13-only']);
    expect(merged.totals).to.deep.equal({ passed: 1, failed: 1, error: 1, skipped: 1 });
  });

  it('does not depend on the order the runs are given in', function () {
    const [a, b] = shards();
    expect(mergeResults([b, a]).scenarios).to.deep.equal(mergeResults([a, b]).scenarios);
  });

  it('spans from the earliest start to the latest end and names the runs it came from', function () {
    const merged = mergeResults(shards());
    expect(merged.run.startedAt).to.equal('2026-11-23T02:50:59.000Z');
    expect(merged.run.endedAt).to.equal('2026-11-23T02:51:21.385Z');
    expect(merged.run.durationMs).to.equal(22_385);
    expect(merged.run.mergedFrom).to.deep.equal(['run-a', 'run-b']);
    expect(merged.run.id).to.equal('run-b-merged');
    expect(merged.run.shard).to.equal(null);
    expect(merged.run.repeat).to.equal(5);
    expect(merged.run.warnings).to.deep.equal(['lab key mode drifted']);
    expect(merged.comparison).to.equal(null);
  });

  it('names each target once, those of a multi-board run from its boards', function () {
    const [a, b] = shards();
    a.run.target = 'emulator emulator';
    a.run.boards = ['b1', 'b2'].map((id) => ({ id, target: 'emulator', deviceId: `esp32-${id}`, firmware: null, dir: id, infrastructureError: null }));
    b.run.target = 'emulator';
    expect(mergeResults([a, b]).run.target).to.equal('emulator');
    b.run.target = 'serial:/dev/ttyUSB0';
    expect(mergeResults([a, b]).run.target).to.equal('emulator serial:/dev/ttyUSB0');
  });

  it('keeps a target that holds a space whole: a multi-board run\'s come from its boards, never from splitting its run.target', function () {
    const [a, b] = shards();
    const spaced = 'emulator:?sdkconfig=/home/me/my build/sdkconfig';
    a.run.target = spaced;
    b.run.target = 'emulator:?sdkconfig=/home/me/my other/sdkconfig';
    expect(mergeResults([a, b]).run.target).to.equal(`${spaced} emulator:?sdkconfig=/home/me/my other/sdkconfig`);
    // Two boards, the first with the space: run.target joins them for reading ("... sdkconfig emulator").
    a.run.boards = [spaced, 'emulator'].map((target, i) => ({ id: `b${i + 1}`, target, deviceId: `esp32-b${i + 1}`, firmware: null, dir: `b${i + 1}`, infrastructureError: null }));
    a.run.target = `${spaced} emulator`;
    b.run.target = 'emulator';
    const merged = mergeResults([a, b]);
    expect(merged.run.target).to.equal(`${spaced} emulator`);
    expect(targetsOf(merged.run)).to.deep.equal([spaced, 'emulator']);
  });

  it('a merged report merged again counts as the runs it came from', function () {
    const [a, b] = shards();
    const c = runResults({ id: 'run-c', shard: null }, []);
    expect(mergeResults([mergeResults([a, b]), c]).run.mergedFrom).to.deep.equal(['run-a', 'run-b', 'run-c']);
  });

  it('keeps a cut-short run and an unreachable device visible, naming the run', function () {
    const [a, b] = shards();
    b.run.cutShort = 'interrupted (SIGINT)';
    b.run.infrastructureError = 'device emulator: no reply to hello within 5000 ms';
    const merged = mergeResults([a, b], { labels: ['reports/a', 'reports/b'] });
    expect(merged.run.cutShort).to.equal('reports/b: interrupted (SIGINT)');
    expect(merged.run.infrastructureError).to.equal('reports/b: device emulator: no reply to hello within 5000 ms');
    expect(mergeResults(shards()).run.cutShort).to.equal(null);
  });

  it('refuses a scenario two runs both hold, naming both runs', function () {
    const [a] = shards();
    const again = runResults({ id: 'run-a2' }, [scenarios()[0]!]);
    expect(() => mergeResults([a, again], { labels: ['shard-1/', 'shard-1-again/'] }))
      .to.throw(UsageError, /scenario "01-valid-server" is in both shard-1\/ and shard-1-again\//);
  });

  it('a file\'s hook that failed on two shards is each shard\'s own result, not a duplicate', function () {
    const hook = { ...scenarios()[2]!, id: '07-low-heap/hook-07-low-heap-before-all-hook', title: '07 low heap "before all" hook in "07 low heap"' };
    const merged = mergeResults([runResults({ id: 'x' }, [hook]), runResults({ id: 'y' }, [hook])]);
    expect(merged.scenarios.map((s) => s.id)).to.deep.equal([hook.id, `${hook.id}~y`]);
    expect(merged.totals.error).to.equal(2);
  });

  it('refuses a scenario two runs both hold also when it ran on another board there', function () {
    // In a split multi-board run the board is only where a scenario happened to run.
    const one = runResults({ id: 'x' }, [{ ...scenarios()[0]!, board: 'b1' }]);
    const two = runResults({ id: 'y' }, [{ ...scenarios()[0]!, board: 'b2' }]);
    expect(() => mergeResults([one, two], { labels: ['shard-1/', 'shard-1-again/'] }))
      .to.throw(UsageError, /^scenario "01-valid-server" is in both shard-1\/ and shard-1-again\/: merge each shard once/);
    // One run's scenario on each of its boards (--each-target) is that run's own: kept.
    expect(mergeResults([boardsRun()]).scenarios.filter((s) => s.id === '01-valid-server').map((s) => s.board)).to.deep.equal(['b1', 'b2']);
  });

  it('two multi-board runs: each board once under an id of its own, each result on its board', function () {
    const [a, b] = twoBoardShards();
    const merged = mergeResults([b, a]);
    expect(merged.run.boards!.map((x) => [x.id, x.deviceId, x.dir])).to.deep.equal([
      ['s1-b1', 'dev-a1', 'boards/b1'], ['s1-b2', 'dev-a2', 'boards/b2'], ['s2-b1', 'dev-b1', 'boards/b1'], ['s2-b2', 'dev-b2', 'boards/b2'],
    ]);
    expect(merged.scenarios.map((s) => [s.id, s.board])).to.deep.equal([
      ['01-valid-server', 's1-b1'], ['05-handshake-budget', 's2-b2'], ['07-low-heap', 's1-b2'], ['09-tls13-only', 's2-b1'],
    ]);
    // A run without boards next to multi-board runs keeps its results board-less.
    const c = runResults({ id: 'run-c', shard: null }, [{ ...scenarios()[0]!, id: '11-other' }]);
    expect(mergeResults([a, b, c]).scenarios.find((s) => s.id === '11-other')!.board).to.equal(undefined);
  });

  it('a merged 2x2-board report draws four distinct board columns in report.html and summary.md', function () {
    const merged = mergeResults(twoBoardShards());
    const html = toReportHtml(merged, { source: '/* chart.js left out */' });
    const heads = [...html.matchAll(/<th>(s\d-b\d)<\/th>/g)].map((m) => m[1]);
    expect(heads).to.deep.equal(['s1-b1', 's1-b2', 's2-b1', 's2-b2']);
    expect([...html.matchAll(/<tr data-board="([^"]+)">/g)].map((m) => m[1])).to.deep.equal(['s1-b1', 's1-b2', 's2-b1', 's2-b2']);
    const summary = toSummaryMarkdown(merged);
    for (const id of ['s1-b1', 's1-b2', 's2-b1', 's2-b2']) expect(summary.match(new RegExp(`- ${id}: `, 'g')), id).to.have.length(1);
    expect(summary).to.match(/\| refuses cleanly when the heap is low \| s1-b2 \|/);
  });

  it('refuses runs of different firmware unless forced', function () {
    const [a, b] = shards();
    b.run.firmware = { ...b.run.firmware!, version: '1.4.3' };
    expect(() => mergeResults([a, b])).to.throw(UsageError, /run run-a and run run-b tested different firmware \(sensor-node 1\.4\.2 and sensor-node 1\.4\.3\).*--force/);
    const forced = mergeResults([a, b], { force: true });
    expect(forced.scenarios).to.have.length(4);
    expect(forced.run.warnings).to.include('merged with --force: run run-a and run run-b tested different firmware (sensor-node 1.4.2 and sensor-node 1.4.3)');
  });

  it('two boards of one build (another MAC and chip) are the same firmware; a run without an identity contradicts nothing', function () {
    const [a, b] = shards();
    b.run.firmware = { ...b.run.firmware!, mac: '24:0a:c4:00:00:02', chip: 'ESP32 rev1' };
    expect(() => mergeResults([a, b])).not.to.throw();
    b.run.firmware = null;
    expect(mergeResults([b, a]).run.firmware?.version).to.equal('1.4.2');
  });

  it('concatenates boards and rebases console logs onto where each run is kept', function () {
    const board = (id: string, deviceId: string) => ({ id, target: 'emulator', deviceId, firmware: null, dir: `boards/${id}`, infrastructureError: null });
    const [a, b] = shards();
    a.run.boards = [board('b1', 'dev-a')];
    b.run.boards = [board('b1', 'dev-b')];
    const merged = mergeResults([a, b], { prefixes: ['runs/a', null] });
    expect(merged.run.boards!.map((x) => [x.deviceId, x.dir])).to.deep.equal([['dev-a', 'runs/a/boards/b1'], ['dev-b', 'boards/b1']]);
    expect(merged.scenarios.find((s) => s.id === '01-valid-server')!.consoleLog).to.equal('runs/a/console/01-valid-server.log');
    expect(merged.scenarios.find((s) => s.id === '05-handshake-budget')!.consoleLog).to.equal('console/05-handshake-budget.log');
  });

  it('a shard that was not merged cuts the merged run short, naming it; different repetitions are a warning', function () {
    const [a] = shards();
    const c = runResults({ id: 'run-c', shard: { index: 3, count: 3 }, repeat: 1 }, []);
    const merged = mergeResults([{ ...a, run: { ...a.run, shard: { index: 1, count: 3 } } }, c]);
    expect(merged.run.cutShort).to.equal('not every shard was merged: 2/3 missing');
    expect(merged.run.warnings.join('\n')).to.not.include('missing');
    c.run.cutShort = 'interrupted (SIGINT)';
    expect(mergeResults([{ ...a, run: { ...a.run, shard: { index: 1, count: 3 } } }, c]).run.cutShort)
      .to.equal('run run-c: interrupted (SIGINT); not every shard was merged: 2/3 missing');
    expect(mergeResults([a, { ...c, run: { ...c.run, shard: { index: 2, count: 3 } } }]).run.cutShort)
      .to.match(/^run run-c: interrupted \(SIGINT\); the merged runs are shards of different splits \(of 2, of 3\)/);
    expect(merged.run.warnings.some((w) => /different number of times \(5, 1\)/.test(w))).to.equal(true);
    expect(merged.run.repeat).to.equal(undefined);
  });

  it('refuses nothing to merge and a schema it does not read', function () {
    expect(() => mergeResults([])).to.throw(UsageError, /nothing to merge/);
    const [a] = shards();
    expect(() => mergeResults([{ ...a, schema: 99 }], { labels: ['old/results.json'] })).to.throw(UsageError, /old\/results\.json has results schema 99/);
  });
});
