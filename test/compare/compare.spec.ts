/**
 * Comparing two runs, on hand-made results: which outcome changes are regressions, when a moved
 * median is noise, relative budgets, and how results are matched across boards.
 */
import { expect } from 'chai';
import { applyRelativeBudgets, compareRuns, judgeAgainstBaseline, mad, NOISE, noiseBand } from '../../harness/compare/index.ts';
import { median, p95, totalsOf, type Metric, type Outcome, type RunResults, type ScenarioResult } from '../../harness/report/model.ts';
import { parseBudget, type BudgetRule } from '../../harness/run/config.ts';

function metric(name: string, values: number[], unit: 'ms' | 'B' = name.endsWith('_ms') ? 'ms' : 'B'): Metric {
  return { name, unit, source: 'model', values, median: median(values), p95: p95(values) };
}

function scenario(id: string, outcome: Outcome, metrics: Metric[] = [], board?: string): ScenarioResult {
  return {
    id, title: `title of ${id}`, file: `scenarios/${id.split('/')[0]}.spec.ts`, outcome, durationMs: 10, repetitions: metrics[0]?.values.length ?? 1,
    failure: outcome === 'passed' ? null : { kind: 'assertion', message: 'it failed' }, metrics, attempts: [], consoleLog: null,
    ...(board ? { board } : {}),
  };
}

function runOf(id: string, scenarios: ScenarioResult[]): RunResults {
  return {
    schema: 1,
    run: {
      id, hiltVersion: '0.1.0', target: 'emulator', startedAt: '2026-12-01T05:00:00.000Z', endedAt: '2026-12-01T05:01:00.000Z', durationMs: 60_000,
      cutShort: null, infrastructureError: null, warnings: [], notes: [],
      firmware: { project: 'app', version: id, idf: 'v5.5', elfSha256: null, agent: 'hilt 1', chip: 'ESP32 rev 3', mac: '24:0a:c4:00:00:01' },
      security: null, fingerprints: { trust: [], served: [] },
    },
    scenarios, totals: totalsOf(scenarios),
  };
}

function budget(metric: string, expression: string): BudgetRule {
  const rule = parseBudget(metric, expression);
  if (typeof rule === 'string') throw new Error(rule);
  return rule;
}

describe('compare: outcomes', function () {
  const old = runOf('1.0', [
    scenario('a/ok', 'passed'), scenario('b/breaks', 'passed'), scenario('c/errs', 'passed'), scenario('d/fixed', 'failed'),
    scenario('e/gone', 'passed'), scenario('f/unskipped', 'skipped'), scenario('g/skipped-now', 'passed'),
  ]);
  const now = runOf('1.1', [
    scenario('a/ok', 'passed'), scenario('b/breaks', 'failed'), scenario('c/errs', 'error'), scenario('d/fixed', 'passed'),
    scenario('f/unskipped', 'failed'), scenario('g/skipped-now', 'skipped'), scenario('h/new', 'failed'),
  ]);
  const c = compareRuns(old, now, { path: 'old/results.json' });

  it('lists every scenario whose outcome changed, or that one run lacks; unchanged ones not', function () {
    expect(c.outcomes.map((o) => [o.key, o.from, o.to])).to.deep.equal([
      ['b/breaks', 'passed', 'failed'], ['c/errs', 'passed', 'error'], ['d/fixed', 'failed', 'passed'],
      ['f/unskipped', 'skipped', 'failed'], ['g/skipped-now', 'passed', 'skipped'], ['h/new', 'absent', 'failed'], ['e/gone', 'passed', 'absent'],
    ]);
  });

  it('a regression is passed -> failed or error; nothing else (a new failure fails the run by itself)', function () {
    expect(c.outcomes.filter((o) => o.regression).map((o) => o.key)).to.deep.equal(['b/breaks', 'c/errs']);
    expect(c.regressions).to.equal(2);
  });

  it('names the baseline run', function () {
    expect(c.baseline).to.deep.equal({ path: 'old/results.json', runId: '1.0', firmware: old.run.firmware, startedAt: old.run.startedAt });
  });

  it('the same run against itself: nothing changed', function () {
    const same = compareRuns(old, old, { path: 'x' });
    expect(same.outcomes).to.deep.equal([]);
    expect(same.regressions).to.equal(0);
  });
});

describe('compare: metrics and noise', function () {
  it('MAD: the median distance from the median; no spread from one value', function () {
    expect(mad([10, 12, 14, 100])).to.equal(2);
    expect(mad([1200])).to.equal(0);
    expect(mad([])).to.equal(0);
  });

  it('one or two repetitions in either run: the wider time floor (200 ms or 10% of the baseline; 256 B or 2%)', function () {
    expect(noiseBand('ms', [100], [400])).to.equal(200);
    expect(noiseBand('ms', [2500], [2600])).to.equal(250);
    expect(noiseBand('ms', [100, 110], [100, 100, 100])).to.equal(200); // (two close values prove no calm)
    expect(noiseBand('B', [1000], [1000])).to.equal(256);
    expect(noiseBand('B', [34_202], [46_490])).to.be.closeTo(684.04, 1e-9);
  });

  it('three repetitions or more: the time floor is 50 ms', function () {
    expect(noiseBand('ms', [100, 100, 100], [400, 400, 400])).to.equal(50);
    expect(noiseBand('ms', [1200, 1200, 1200], [1300, 1300, 1300])).to.equal(120);
  });

  it('with repetitions: 3 × 1.4826 × the larger MAD of the two runs, when wider than the floors', function () {
    // MAD 100 in the current run's repetitions: 3 × 148.26 = 444.78 ms.
    expect(noiseBand('ms', [1000, 1010, 990], [1000, 1100, 900, 1200, 800])).to.be.closeTo(444.78, 1e-9);
    expect(noiseBand('ms', [1000, 1001, 999], [1000, 1002, 998])).to.equal(100); // floors win over a tight spread
  });

  it('a median moved beyond the band regressed (up) or improved (down); within it, unchanged', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [metric('tls_ms', [1000, 1010, 990]), metric('heap_peak_used', [34_202]), metric('tcp_ms', [5])])]);
    const now = runOf('1.1', [scenario('a/x', 'passed', [metric('tls_ms', [1200, 1190, 1210]), metric('heap_peak_used', [30_000]), metric('tcp_ms', [180])])]);
    const c = compareRuns(old, now, { path: 'x' });
    expect(c.metrics.map((m) => [m.name, m.baseline, m.current, m.delta, m.change])).to.deep.equal([
      ['tls_ms', 1000, 1200, 200, 'regressed'], ['heap_peak_used', 34_202, 30_000, -4202, 'improved'], ['tcp_ms', 5, 180, 175, 'unchanged'],
    ]);
    expect(c.metrics[0]).to.include({ key: 'a/x', unit: 'ms', deltaPct: 20, noise: 100 });
    expect(c.regressions).to.equal(1);
  });

  it('the same change is noise when the repetitions spread wider', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [metric('tls_ms', [1000, 900, 1100, 800, 1200])])]);
    const now = runOf('1.1', [scenario('a/x', 'passed', [metric('tls_ms', [1200, 1100, 1300, 1000, 1400])])]);
    const [m] = compareRuns(old, now, { path: 'x' }).metrics;
    expect(m).to.include({ delta: 200, change: 'unchanged' });
    expect(m!.noise).to.be.closeTo(3 * 1.4826 * 100, 1e-9);
  });

  it('a metric where more is better (free heap) regresses downwards', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [metric('heap_min', [60_000])])]);
    const now = runOf('1.1', [scenario('a/x', 'passed', [metric('heap_min', [50_000])])]);
    expect(compareRuns(old, now, { path: 'x' }).metrics[0]!.change).to.equal('regressed');
  });

  it('compares only metrics both runs measured; a baseline of 0 has no percentage', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [metric('heap_leak', [0]), metric('dns_ms', []), metric('tls_ms', [900])])]);
    const now = runOf('1.1', [scenario('a/x', 'passed', [metric('heap_leak', [512]), metric('dns_ms', [3]), metric('mqtt_ms', [40])])]);
    const c = compareRuns(old, now, { path: 'x' });
    expect(c.metrics.map((m) => m.name)).to.deep.equal(['heap_leak']);
    expect(c.metrics[0]).to.include({ deltaPct: null, change: 'regressed' });
  });

  it('the noise rule can be given (tests, a stricter gate)', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [metric('tls_ms', [1000])])]);
    const now = runOf('1.1', [scenario('a/x', 'passed', [metric('tls_ms', [1030])])]);
    expect(compareRuns(old, now, { path: 'x' }).metrics[0]!.change).to.equal('unchanged');
    const strict = { k: NOISE.k, floors: { ms: { absolute: 5, few: 5, relative: 0.01 }, B: NOISE.floors.B } };
    expect(compareRuns(old, now, { path: 'x', noise: strict }).metrics[0]!.change).to.equal('regressed');
  });
});

describe('compare: boards', function () {
  it('matches by id@board; a result on a board also matches the baseline\'s one result of that id', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [metric('tls_ms', [1000])]), scenario('b/y', 'passed')]);
    const now = runOf('1.1', [scenario('a/x', 'failed', [metric('tls_ms', [1000])], 'b1'), scenario('a/x', 'passed', [], 'b2'), scenario('b/y', 'passed', [], 'b2')]);
    const c = compareRuns(old, now, { path: 'x' });
    expect(c.outcomes.map((o) => [o.key, o.from, o.to, o.regression])).to.deep.equal([['a/x@b1', 'passed', 'failed', true]]);
    expect(c.metrics.map((m) => m.key)).to.deep.equal(['a/x@b1']);
  });

  it('two boards in both runs: each board against its own', function () {
    const old = runOf('1.0', [scenario('a/x', 'passed', [], 'b1'), scenario('a/x', 'failed', [], 'b2')]);
    const now = runOf('1.1', [scenario('a/x', 'failed', [], 'b1'), scenario('a/x', 'failed', [], 'b2')]);
    expect(compareRuns(old, now, { path: 'x' }).outcomes.map((o) => [o.key, o.regression])).to.deep.equal([['a/x@b1', true]]);
  });
});

describe('compare: relative budgets', function () {
  const rules = [budget('tls_ms', '<= baseline + 10%'), budget('heap_peak_used', '<= baseline + 1 KiB'), budget('total_ms', '<= 5000')];
  const old = () => runOf('1.0', [
    scenario('a/x', 'passed', [metric('tls_ms', [1000]), metric('heap_peak_used', [34_000]), metric('total_ms', [1100])]),
    // (spread wide: its change is within noise, but over its budget)
    scenario('b/y', 'passed', [metric('tls_ms', [1000, 1100, 900])]),
  ]);
  const now = () => runOf('1.1', [
    scenario('a/x', 'passed', [metric('tls_ms', [1099]), metric('heap_peak_used', [35_100]), metric('total_ms', [1200])]),
    scenario('b/y', 'passed', [metric('tls_ms', [1101])]),
    scenario('c/new', 'passed', [metric('tls_ms', [1500])]),
  ]);

  it('parses "baseline + 10%", "+ 1 KiB", "+ 5 ms" and a plain "baseline"', function () {
    expect(budget('tls_ms', '<= baseline + 10%').relative).to.deep.equal({ margin: 10, percent: true });
    expect(budget('heap_peak_used', '<= baseline + 1 KiB').relative).to.deep.equal({ margin: 1024, percent: false });
    expect(budget('tls_ms', '< baseline+5 ms')).to.deep.include({ op: '<', relative: { margin: 5, percent: false }, expression: 'tls_ms < baseline+5 ms' });
    expect(budget('tls_ms', '<= baseline').relative).to.deep.equal({ margin: 0, percent: false });
    expect(budget('tls_ms', '<= 2000').relative).to.equal(undefined);
  });

  it('judged per scenario against the baseline\'s median: limit, measured, baseline; exceeded fails the scenario', function () {
    const run = now();
    applyRelativeBudgets(run.scenarios, rules, { path: 'old', results: old() });
    const [a, b, c] = run.scenarios;
    expect(a!.metrics[0]!.budget).to.deep.equal({ expression: 'tls_ms <= baseline + 10%', limit: 1100, measured: 1099, exceeded: false, baseline: 1000 });
    expect(a!.metrics[1]!.budget).to.deep.include({ limit: 35_024, measured: 35_100, exceeded: true, baseline: 34_000 });
    expect(a!.outcome).to.equal('failed');
    expect(a!.failure).to.deep.equal({ kind: 'budget', message: 'budget exceeded: heap_peak_used median 35100 B breaks heap_peak_used <= baseline + 1 KiB (baseline 34000 B, limit 35024 B)' });
    expect(a!.metrics[2]!.budget).to.equal(undefined); // absolute budgets are the runner's
    expect(b!.outcome).to.equal('failed');
    // A scenario the baseline lacks: not judged, and it says so.
    expect(c!.outcome).to.equal('passed');
    expect(c!.metrics[0]!.budget).to.equal(undefined);
    expect(c!.notes).to.deep.equal(['budget tls_ms <= baseline + 10% not evaluated: the baseline (old) has no tls_ms for this scenario']);
  });

  it('without a baseline: a note on each scenario, not a failure', function () {
    const run = now();
    applyRelativeBudgets(run.scenarios, rules, null);
    expect(run.scenarios.map((s) => s.outcome)).to.deep.equal(['passed', 'passed', 'passed']);
    expect(run.scenarios[0]!.notes).to.deep.equal([
      'budget tls_ms <= baseline + 10% not evaluated: no baseline run (give one with --baseline PATH or "baseline" in hilt.config.json)',
      'budget heap_peak_used <= baseline + 1 KiB not evaluated: no baseline run (give one with --baseline PATH or "baseline" in hilt.config.json)',
    ]);
  });

  it('a run judged against its baseline: outcomes, totals and the comparison agree; a budget\'s failure counts once', function () {
    const run = now();
    judgeAgainstBaseline(run, rules, { path: 'old', results: old() });
    expect(run.totals).to.deep.equal({ passed: 1, failed: 2, error: 0, skipped: 0 });
    const c = run.comparison!;
    expect(c.outcomes.filter((o) => o.regression).map((o) => o.key)).to.deep.equal(['a/x', 'b/y']);
    expect(c.budgets!.map((x) => [x.key, x.metric, x.exceeded])).to.deep.equal([['a/x', 'tls_ms', false], ['a/x', 'heap_peak_used', true], ['b/y', 'tls_ms', true]]);
    // Two outcome regressions (made by the budgets), the heap's median beyond its noise band (684 B): 3.
    expect(c.metrics.filter((m) => m.change === 'regressed').map((m) => [m.key, m.name])).to.deep.equal([['a/x', 'heap_peak_used']]);
    expect(c.regressions).to.equal(3);
  });

  it('hilt compare: a relative budget exceeded in a scenario that still passed is a regression of its own', function () {
    const c = compareRuns(old(), now(), { path: 'old', budgets: rules });
    expect(c.outcomes.filter((o) => o.regression)).to.deep.equal([]);
    expect(c.budgets!.filter((x) => x.exceeded).map((x) => x.key)).to.deep.equal(['a/x', 'b/y']);
    expect(c.regressions).to.equal(3); // two budgets, one metric
  });

  it('no baseline given to the run: no comparison', function () {
    const run = now();
    judgeAgainstBaseline(run, rules, null);
    expect(run.comparison).to.equal(undefined);
  });
});
