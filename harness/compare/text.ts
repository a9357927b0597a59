/** `hilt compare`'s plain-text view of a Comparison: the regressions first, then what else moved. */
import { num } from '../report/format.ts';
import type { Comparison } from '../report/model.ts';

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${num(x)}`;
}

export function comparisonText(c: Comparison, current: { runId: string; path: string }): string {
  const b = c.baseline;
  const fw = b.firmware ? ` (${b.firmware.project} ${b.firmware.version})` : '';
  const out = [`baseline: run ${b.runId}${fw}, ${b.path}`, `current:  run ${current.runId}, ${current.path}`];

  const outcomes = [...c.outcomes].sort((x, y) => Number(y.regression) - Number(x.regression));
  if (outcomes.length > 0) {
    out.push('', 'outcomes that changed:');
    for (const o of outcomes) out.push(`  ${o.regression ? 'REGRESSION' : 'changed   '} ${o.key}: ${o.from} -> ${o.to}`);
  }

  const moved = c.metrics.filter((m) => m.change !== 'unchanged').sort((x, y) => (x.change === y.change ? 0 : x.change === 'regressed' ? -1 : 1));
  out.push('', `metrics: ${c.metrics.length} compared, ${c.metrics.length - moved.length} within noise`);
  for (const m of moved) {
    const pct = m.deltaPct === null ? '' : `, ${signed(m.deltaPct)}%`;
    out.push(`  ${m.change === 'regressed' ? 'REGRESSED' : 'improved '} ${m.key} ${m.name}: ${num(m.baseline)} -> ${num(m.current)} ${m.unit} (${signed(m.delta)} ${m.unit}${pct}; noise ±${num(m.noise)})`);
  }

  if (c.budgets?.length) {
    out.push('', 'budgets relative to the baseline:');
    for (const x of [...c.budgets].sort((p, q) => Number(q.exceeded) - Number(p.exceeded))) {
      out.push(`  ${x.exceeded ? 'EXCEEDED' : 'kept    '} ${x.key} ${x.expression}: ${num(x.measured)} against limit ${num(x.limit)} (baseline ${num(x.baseline)})`);
    }
  }
  out.push('', c.regressions === 0 ? 'no regressions' : `${c.regressions} regression${c.regressions === 1 ? '' : 's'}`);
  return `${out.join('\n')}\n`;
}
