/**
 * The charts of report.html as plain data: one Chart.js configuration per chart, JSON only (no
 * functions), embedded in the page and handed to Chart.js by the page's script. Kept apart from
 * the markup so each chart can be read (and tested) as data.
 */
import { HEAP_PEAK_METRIC, TLS_METRIC } from './format.ts';
import type { Metric, RunResults, ScenarioResult } from './model.ts';

export interface ChartSpec {
  id: string;
  title: string;
  /** One sentence under the title: what is drawn and how to read it. */
  caption: string;
  config: Record<string, unknown>;
}

/** The phases of one connect, in the order they happen. */
const PHASES = ['dns_ms', 'tcp_ms', 'tls_ms', 'mqtt_ms'] as const;
const PHASE_COLOURS: Record<string, string> = { dns_ms: '#9ecae1', tcp_ms: '#6baed6', tls_ms: '#2171b5', mqtt_ms: '#74c476' };
const MEDIAN = 'rgba(33, 113, 181, 0.55)';
const POINT = '#08306b';
const BUDGET = '#cb181d';
const LABEL_CHARS = 34;

/**
 * A waits series a firmware backoff judgement wrote into its reason: "intervals 1000, 2010,
 * 3990 ms" (harness/firmware/verdicts.ts). Null when the scenario has none.
 */
export function reconnectIntervalsOf(s: ScenarioResult): number[] | null {
  const texts = [...(s.failure ? [s.failure.message] : []), ...(s.warnings ?? []), ...(s.notes ?? [])];
  for (const text of texts) {
    const m = /\bintervals ((?:\d+(?:\.\d+)?, )*\d+(?:\.\d+)?) ms\b/.exec(text);
    if (m) return m[1]!.split(', ').map(Number);
  }
  return null;
}

/** A short axis label: the title cut, and the board in a multi-board run. */
export function chartLabel(s: ScenarioResult): string {
  const title = s.title || s.id;
  const cut = title.length > LABEL_CHARS ? `${title.slice(0, LABEL_CHARS - 1)}…` : title;
  return s.board ? `${cut} @${s.board}` : cut;
}

/**
 * The labels of a chart's scenarios, each one different: a category axis puts every point whose
 * label is the same on one bar, and two titles may start alike.
 */
export function chartLabels(scenarios: ScenarioResult[]): string[] {
  const seen = new Map<string, number>();
  return scenarios.map((s) => {
    const label = chartLabel(s);
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label} (${n})`;
  });
}

export function chartSpecs(results: RunResults): ChartSpec[] {
  const specs: ChartSpec[] = [];
  const phases = phaseChart(results.scenarios);
  if (phases) specs.push(phases);
  const budgeted = new Set(results.scenarios.flatMap((s) => s.metrics.filter((m) => m.budget).map((m) => m.name)));
  const distributions = [TLS_METRIC, ...[...budgeted].filter((n) => n !== TLS_METRIC && n !== HEAP_PEAK_METRIC).sort(), HEAP_PEAK_METRIC];
  for (const name of distributions) {
    const spec = distributionChart(results.scenarios, name);
    if (spec) specs.push(spec);
  }
  const backoff = backoffChart(results.scenarios);
  if (backoff) specs.push(backoff);
  return specs;
}

/** Median time of each phase, stacked: where a connect spends its time, scenario by scenario. */
function phaseChart(scenarios: ScenarioResult[]): ChartSpec | null {
  const shown = scenarios.filter((s) => PHASES.some((p) => finiteMedian(metric(s, p)) !== null));
  if (!shown.length) return null;
  const present = PHASES.filter((p) => shown.some((s) => finiteMedian(metric(s, p)) !== null));
  return {
    id: 'chart-phases',
    title: 'Time per phase (median, ms)',
    caption: 'Each bar is one scenario: DNS, TCP, TLS and MQTT time of its connect, medians over the repetitions.',
    config: {
      type: 'bar',
      data: {
        labels: chartLabels(shown),
        datasets: present.map((p) => ({
          label: p.replace(/_ms$/, '').toUpperCase(),
          data: shown.map((s) => finiteMedian(metric(s, p))),
          backgroundColor: PHASE_COLOURS[p],
        })),
      },
      options: baseOptions({ stacked: true, unit: 'ms' }),
    },
  };
}

/**
 * One metric across scenarios: a bar at the median, every repetition as a point (the
 * distribution), the budget as a red dash where the scenario has one.
 */
function distributionChart(scenarios: ScenarioResult[], name: string): ChartSpec | null {
  const shown = scenarios.filter((s) => finiteMedian(metric(s, name)) !== null);
  if (!shown.length) return null;
  const heap = name === HEAP_PEAK_METRIC;
  const scale = (v: number) => (heap ? Math.round((v / 1024) * 10) / 10 : v);
  const unit = heap ? 'KiB' : metric(shown[0]!, name)!.unit;
  const labels = chartLabels(shown);
  const points = shown.flatMap((s, i) => metric(s, name)!.values.filter(Number.isFinite).map((v) => ({ x: labels[i], y: scale(v) })));
  const budgets = shown.flatMap((s, i) => {
    const b = metric(s, name)!.budget;
    return b && Number.isFinite(b.limit) ? [{ x: labels[i], y: scale(b.limit) }] : [];
  });
  const repeated = shown.some((s) => metric(s, name)!.values.length > 1);
  const datasets: Array<Record<string, unknown>> = [
    { type: 'bar', label: 'median', data: shown.map((s) => scale(metric(s, name)!.median)), backgroundColor: MEDIAN, order: 3 },
    { type: 'line', label: repeated ? 'each repetition' : 'value', data: points, showLine: false, pointRadius: 3, pointBackgroundColor: POINT, borderColor: POINT, order: 2 },
  ];
  if (budgets.length) {
    datasets.push({ type: 'line', label: 'budget', data: budgets, showLine: false, pointStyle: 'line', pointRadius: 14, borderWidth: 3, borderColor: BUDGET, pointBorderColor: BUDGET, order: 1 });
  }
  return {
    id: `chart-${name.replace(/[^a-z0-9_]/gi, '')}`,
    title: heap ? 'Heap peak per scenario (KiB)' : `${name} per scenario (${unit})`,
    caption: `Bars are medians${repeated ? ', points each repetition' : ''}${budgets.length ? ', red dashes the budget' : ''}.`,
    config: {
      type: 'bar',
      data: { labels, datasets },
      // (median first in the legend: the datasets' order puts the budget on top of the bars)
      options: { ...baseOptions({ stacked: false, unit }), plugins: { legend: { position: 'bottom', reverse: true } } },
    },
  };
}

/** Firmware mode: the device's waits between attempts, one line per backoff scenario. */
function backoffChart(scenarios: ScenarioResult[]): ChartSpec | null {
  const series = scenarios.map((s) => ({ s, waits: reconnectIntervalsOf(s) })).filter((x): x is { s: ScenarioResult; waits: number[] } => !!x.waits?.length);
  if (!series.length) return null;
  const longest = Math.max(...series.map((x) => x.waits.length));
  const colours = ['#2171b5', '#cb181d', '#238b45', '#6a51a3', '#d94801'];
  return {
    id: 'chart-backoff',
    title: 'Reconnect intervals (ms)',
    caption: "The device's wait before each new attempt, from one connection's close to the next one's start (docs/backoff.md).",
    config: {
      type: 'line',
      data: {
        labels: Array.from({ length: longest }, (_, i) => `wait ${i + 1}`),
        datasets: series.map(({ waits }, i) => ({
          label: chartLabels(series.map((x) => x.s))[i], data: waits, borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length], tension: 0,
        })),
      },
      options: baseOptions({ stacked: false, unit: 'ms' }),
    },
  };
}

function baseOptions({ stacked, unit }: { stacked: boolean; unit: string }): Record<string, unknown> {
  return {
    // Drawn once: a report is read, not watched, and a screenshot must show the final chart.
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom' } },
    scales: {
      x: { stacked, ticks: { autoSkip: false, maxRotation: 60, minRotation: 30 } },
      y: { stacked, beginAtZero: true, title: { display: true, text: unit } },
    },
  };
}

function metric(s: ScenarioResult, name: string): Metric | undefined {
  return s.metrics.find((m) => m.name === name);
}

function finiteMedian(m: Metric | undefined): number | null {
  return m && Number.isFinite(m.median) ? m.median : null;
}
