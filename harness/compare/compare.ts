/**
 * Two runs compared: which scenarios changed outcome, how each metric's median moved beyond the
 * noise of the repetitions, and the relative budgets. Pure functions over RunResults: `hilt
 * compare`, `hilt run --baseline` and the report views all read the same Comparison.
 */
import { relativeLimit, withinBudget, type BudgetRule } from '../run/config.ts';
import { resultKey, type Comparison, type Metric, type RunResults, type ScenarioResult } from '../report/model.ts';
import { NOISE, noiseBand, type NoiseRule } from './noise.ts';

export interface CompareOptions {
  /** Where the baseline came from, as the user named it. */
  path: string;
  /** The configured budgets: the relative ones are judged against the baseline. */
  budgets?: BudgetRule[];
  noise?: NoiseRule;
}

/** Metrics where more is better (free heap); every other one (times, heap used) regresses upwards. */
const HIGHER_IS_BETTER = new Set(['heap_min', 'heap_free']);

/**
 * Finds a scenario's counterpart in the baseline: the same `resultKey`, or else the one baseline
 * result with the same id (a run on one board compared with a run split over several, where the
 * same scenario carries "@b2").
 */
export function counterparts(baseline: RunResults): (s: ScenarioResult) => ScenarioResult | undefined {
  const byKey = new Map(baseline.scenarios.map((s) => [resultKey(s), s]));
  const byId = new Map<string, ScenarioResult[]>();
  for (const s of baseline.scenarios) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  return (s) => {
    const same = byKey.get(resultKey(s));
    if (same) return same;
    const ids = byId.get(s.id);
    return ids?.length === 1 ? ids[0] : undefined;
  };
}

function measured(m: Metric | undefined): m is Metric {
  return m !== undefined && m.values.length > 0 && Number.isFinite(m.median);
}

export function compareRuns(baseline: RunResults, current: RunResults, opts: CompareOptions): Comparison {
  const find = counterparts(baseline);
  const rule = opts.noise ?? NOISE;
  const outcomes: Comparison['outcomes'] = [];
  const metrics: Comparison['metrics'] = [];
  const budgets: NonNullable<Comparison['budgets']> = [];
  const matched = new Set<ScenarioResult>();
  for (const s of current.scenarios) {
    const key = resultKey(s);
    const before = find(s);
    if (!before) {
      outcomes.push({ key, title: s.title, from: 'absent', to: s.outcome, regression: false });
      continue;
    }
    matched.add(before);
    if (before.outcome !== s.outcome) {
      const regression = before.outcome === 'passed' && (s.outcome === 'failed' || s.outcome === 'error');
      outcomes.push({ key, title: s.title, from: before.outcome, to: s.outcome, regression });
    }
    for (const now of s.metrics) {
      const then = before.metrics.find((m) => m.name === now.name);
      if (!measured(now) || !measured(then) || then.unit !== now.unit) continue;
      const delta = now.median - then.median;
      const noise = noiseBand(now.unit, then.values, now.values, rule);
      const worse = HIGHER_IS_BETTER.has(now.name) ? -delta : delta;
      metrics.push({
        key, name: now.name, unit: now.unit, baseline: then.median, current: now.median, delta,
        deltaPct: then.median === 0 ? null : (delta / Math.abs(then.median)) * 100, noise,
        change: worse > noise ? 'regressed' : worse < -noise ? 'improved' : 'unchanged',
      });
    }
    for (const r of opts.budgets ?? []) {
      if (!r.relative) continue;
      const now = s.metrics.find((m) => m.name === r.metric);
      const then = before.metrics.find((m) => m.name === r.metric);
      if (!measured(now) || !measured(then)) continue;
      const limit = relativeLimit(r, then.median);
      budgets.push({ key, metric: r.metric, expression: r.expression, baseline: then.median, limit, measured: now.median, exceeded: !withinBudget(r, now.median, limit) });
    }
  }
  for (const s of baseline.scenarios) {
    if (!matched.has(s)) outcomes.push({ key: resultKey(s), title: s.title, from: s.outcome, to: 'absent', regression: false });
  }
  // A relative budget that failed its scenario is that scenario's outcome regression already: counted once.
  const regressedKeys = new Set(outcomes.filter((o) => o.regression).map((o) => o.key));
  const regressions = regressedKeys.size
    + metrics.filter((m) => m.change === 'regressed').length
    + budgets.filter((b) => b.exceeded && !regressedKeys.has(b.key)).length;
  return {
    baseline: { path: opts.path, runId: baseline.run.id, firmware: baseline.run.firmware, startedAt: baseline.run.startedAt },
    outcomes, metrics, ...(budgets.length > 0 ? { budgets } : {}), regressions,
  };
}
