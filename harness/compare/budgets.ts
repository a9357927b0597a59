/**
 * A run's relative budgets ("tls_ms": "<= baseline + 10%"), and the baseline's judgement of a
 * finished run: what `hilt run --baseline` adds to the results before they are written.
 */
import { relativeLimit, withinBudget, type BudgetRule } from '../run/config.ts';
import { num } from '../report/format.ts';
import { totalsOf, type RunResults, type ScenarioResult } from '../report/model.ts';
import { compareRuns, counterparts } from './compare.ts';

/** A baseline run and where it came from. */
export interface Baseline {
  path: string;
  results: RunResults;
  /** The folder holding its results.json, links resolved when it was read (retention spares it). */
  folder?: string;
}

/**
 * Judges each scenario's metrics by the relative budgets, against the same scenario's median in
 * the baseline. Exceeded fails a scenario that passed, as an absolute budget does. Without a
 * baseline, or without that metric in it, the budget is not judged: a note says so, the scenario
 * keeps its outcome.
 */
export function applyRelativeBudgets(scenarios: ScenarioResult[], rules: BudgetRule[], baseline: Baseline | null): void {
  const relative = rules.filter((r) => r.relative);
  if (relative.length === 0) return;
  const find = baseline ? counterparts(baseline.results) : () => undefined;
  for (const s of scenarios) {
    const before = find(s);
    for (const rule of relative) {
      const metric = s.metrics.find((m) => m.name === rule.metric);
      if (!metric || metric.values.length === 0) continue;
      const then = before?.metrics.find((m) => m.name === rule.metric);
      if (!then || then.values.length === 0 || !Number.isFinite(then.median)) {
        const why = baseline ? `the baseline (${baseline.path}) has no ${rule.metric} for this scenario` : 'no baseline run (give one with --baseline PATH or "baseline" in hilt.config.json)';
        (s.notes ??= []).push(`budget ${rule.expression} not evaluated: ${why}`);
        continue;
      }
      const limit = relativeLimit(rule, then.median);
      const exceeded = !withinBudget(rule, metric.median, limit);
      metric.budget = { expression: rule.expression, limit, measured: metric.median, exceeded, baseline: then.median };
      if (exceeded && s.outcome === 'passed') {
        s.outcome = 'failed';
        s.failure = {
          kind: 'budget',
          message: `budget exceeded: ${rule.metric} median ${num(metric.median)} ${metric.unit} breaks ${rule.expression} (baseline ${num(then.median)} ${metric.unit}, limit ${num(limit)} ${metric.unit})`,
        };
      }
    }
  }
}

/** The relative budgets applied and, with a baseline, `results.comparison` set; totals follow the outcomes. */
export function judgeAgainstBaseline(results: RunResults, rules: BudgetRule[], baseline: Baseline | null): void {
  applyRelativeBudgets(results.scenarios, rules, baseline);
  results.totals = totalsOf(results.scenarios);
  if (baseline) results.comparison = compareRuns(baseline.results, results, { path: baseline.path, budgets: rules });
}
