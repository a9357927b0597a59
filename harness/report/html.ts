/**
 * report.html: the run as a release manager reads it, in one file that opens from disk with no
 * network. Chart.js is inlined from node_modules when the file is written (docs/reports.md says
 * why that library); a Content-Security-Policy allows nothing but the page's own inline script
 * and style (by hash), so the file cannot load anything, and text that escaped its escaping still
 * could not run. Every value from a device or a results file goes through the `html` template,
 * which escapes it.
 *
 * The page, top to bottom: which firmware and run; the verdict counts; run-level alerts; boards;
 * what changed since the baseline; security findings; charts; the scenario table (filterable by
 * verdict), each row opening to its details. One template function per part.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { securityFindings, type Finding } from './findings.ts';
import { dateOf, duration, fileStem, HEAP_PEAK_METRIC, metricOf, num, repetitionsOf, TLS_METRIC } from './format.ts';
import { chartSpecs, reconnectIntervalsOf, type ChartSpec } from './html-charts.ts';
import { SCRIPT, STYLE } from './html-page.ts';
import { html, raw, scriptJson, type Html } from './html-template.ts';
import { resultKey, targetsOf, type AttemptRecord, type BoardInfo, type Comparison, type ConsoleExcerpt, type Metric, type RunResults, type ScenarioResult } from './model.ts';

/** What a scenario's row says: a pass with warnings is its own verdict here, as in Device Advisor. */
export type Verdict = 'pass' | 'warn' | 'fail' | 'error' | 'skipped';
export const VERDICTS: readonly Verdict[] = ['pass', 'warn', 'fail', 'error', 'skipped'];

export function verdictOf(s: ScenarioResult): Verdict {
  switch (s.outcome) {
    case 'passed': return s.warnings?.length ? 'warn' : 'pass';
    case 'failed': return 'fail';
    case 'error': return 'error';
    case 'skipped': return 'skipped';
  }
}

let chartLibrary: { source: string } | { problem: string } | null = null;

/**
 * Chart.js's UMD build, read once per process from wherever node resolves the package; or why it
 * cannot be (a broken install), which the page then shows in place of its charts.
 */
export function chartJsSource(): { source: string } | { problem: string } {
  if (chartLibrary === null) {
    try {
      const main = createRequire(import.meta.url).resolve('chart.js');
      // The source map comment would only make a browser's developer tools look for a file that is not there.
      chartLibrary = { source: readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n') };
    } catch (err) {
      chartLibrary = { problem: `chart.js could not be read (${(err as Error).message.split('\n')[0]}): reinstall hilt's dependencies (npm ci)` };
    }
  }
  return chartLibrary;
}

export function toReportHtml(results: RunResults, chartJs = chartJsSource()): string {
  const charts = chartSpecs(results);
  const chartJson = scriptJson(charts).text;
  // An inline script must never contain "</script": the library does not, and this keeps it so.
  const library = 'source' in chartJs ? chartJs.source.replace(/<\/(script)/gi, '<\\/$1') : '';
  const hashes = [library, SCRIPT].map(sha256);
  const csp = `default-src 'none'; script-src ${hashes.map((h) => `'sha256-${h}'`).join(' ')}; style-src 'sha256-${sha256(STYLE)}'; img-src data:`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hilt ${results.run.hiltVersion}">
<title>${pageTitle(results)}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
${header(results)}
<main>
${verdictCounts(results)}
${runAlerts(results)}
${boardsSection(results.run.boards ?? [])}
${comparisonSection(results)}
${findingsSection(securityFindings(results))}
${chartsSection(charts, 'problem' in chartJs ? chartJs.problem : null)}
${scenarioSection(results)}
</main>
<script type="application/json" id="hilt-charts">${raw(chartJson)}</script>
<script>${raw(library)}</script>
<script>${raw(SCRIPT)}</script>
</body>
</html>
`.text;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}

function pageTitle(results: RunResults): string {
  const fw = results.run.firmware ?? results.run.image;
  return `hilt: ${fw ? `${fw.project} ${fw.version}` : `run ${results.run.id}`} on ${targetsOf(results.run).join(', ')}, ${dateOf(results.run.startedAt)}`;
}

// --- identity ------------------------------------------------------------------------------------

function header(results: RunResults): Html {
  const { run } = results;
  const fw = run.firmware;
  const image = run.image ?? null;
  const item = (label: string, value: Html | string | null | undefined) => (value === null || value === undefined || value === ''
    ? html``
    : html`<dt>${label}</dt><dd>${value}</dd>`);
  const elf = image?.elfSha256 ?? fw?.elfSha256 ?? null;
  return html`<header>
<h1>${fw ? `${fw.project} ${fw.version}` : image ? `${image.project} ${image.version}` : `run ${run.id}`}</h1>
<dl class="identity">
${item('Project', fw?.project ?? image?.project ?? 'unknown (the device did not say)')}
${item('Version', fw?.version ?? image?.version)}
${item('ESP-IDF', fw?.idf ?? image?.idf)}
${item('ELF SHA-256', elf ? html`<code>${elf}</code>` : 'unknown')}
${item('Built', image?.builtAt)}
${item('Image', image ? `${image.state === 'flashed' ? 'flashed and verified' : 'already running'} from ${image.buildDir}` : null)}
${item('Chip', fw ? `${fw.chip}, MAC ${fw.mac}` : null)}
${item('Agent', fw?.agent)}
${item(targetsOf(results.run).length > 1 ? 'Targets' : 'Target', targetsOf(results.run).join(', '))}
${item('Port', run.port)}
${item('Started', run.startedAt)}
${item('Duration', duration(run.durationMs))}
${item('Repetitions', repetitionsOf(results) > 1 ? String(repetitionsOf(results)) : null)}
${item('Shard', run.shard ? `${run.shard.index} of ${run.shard.count}` : null)}
${item('Merged from', run.mergedFrom?.length ? run.mergedFrom.join(', ') : null)}
${item('Run', run.id)}
${item('hilt', run.hiltVersion)}
</dl>
</header>`;
}

// --- verdicts and run-level alerts -------------------------------------------------------------

function verdictCounts(results: RunResults): Html {
  const counts = countVerdicts(results.scenarios);
  const names: Record<Verdict, string> = { pass: 'passed', warn: 'passed with warnings', fail: 'failed', error: 'errors', skipped: 'skipped' };
  return html`<section id="verdict" class="counts">
${VERDICTS.map((v) => html`<div class="count verdict-${v}" data-verdict="${v}"><b>${counts[v]}</b>${names[v]}</div>`)}
</section>`;
}

export function countVerdicts(scenarios: ScenarioResult[]): Record<Verdict, number> {
  const counts: Record<Verdict, number> = { pass: 0, warn: 0, fail: 0, error: 0, skipped: 0 };
  for (const s of scenarios) counts[verdictOf(s)] += 1;
  return counts;
}

function runAlerts(results: RunResults): Html {
  const { run } = results;
  return html`${run.infrastructureError ? html`<p class="alert">Infrastructure: ${run.infrastructureError}</p>` : ''}
${run.cutShort ? html`<p class="alert">Run cut short: ${run.cutShort}</p>` : ''}
${(run.warnings ?? []).map((w) => html`<p class="alert note">Warning: ${w}</p>`)}
${run.notes?.length ? html`<p class="alert note">Device output outside any scenario: ${run.notes.join('; ')}</p>` : ''}`;
}

// --- boards ------------------------------------------------------------------------------------

function boardsSection(boards: BoardInfo[]): Html {
  if (!boards.length) return html``;
  return html`<section id="boards">
<h2>Boards</h2>
<table>
<thead><tr><th>Board</th><th>Target</th><th>Device id</th><th>Firmware</th><th>State</th></tr></thead>
<tbody>
${boards.map((b) => html`<tr data-board="${b.id}"><td>${b.id}</td><td><code>${b.target}</code>${b.port ? html` <span class="muted">(${b.port})</span>` : ''}</td><td>${b.deviceId}</td>
<td>${b.firmware ? `${b.firmware.project} ${b.firmware.version} (${b.firmware.idf})` : 'unknown'}</td>
<td>${b.infrastructureError ? html`<span class="badge verdict-error">unreachable</span> ${b.infrastructureError}` : 'ok'}</td></tr>`)}
</tbody>
</table>
</section>`;
}

// --- comparison --------------------------------------------------------------------------------

function comparisonSection(results: RunResults): Html {
  const c = results.comparison;
  if (!c) return html``;
  const titles = new Map(results.scenarios.map((s) => [resultKey(s), s.title || s.id]));
  const base = c.baseline;
  const changed = c.metrics.filter((m) => m.change !== 'unchanged');
  const unchanged = c.metrics.filter((m) => m.change === 'unchanged');
  return html`<section id="changes">
<h2>Changes since the baseline</h2>
<p>Baseline: ${base.firmware ? `${base.firmware.project} ${base.firmware.version}` : 'unknown firmware'}, run <code>${base.runId}</code> of ${dateOf(base.startedAt)} (<code>${base.path}</code>).
<b class="${c.regressions > 0 ? 'regressed' : 'improved'}">${c.regressions} regression${c.regressions === 1 ? '' : 's'}</b>.</p>
${c.outcomes.length ? html`<h3>Outcomes that changed</h3>
<table class="outcomes"><thead><tr><th>Scenario</th><th>Was</th><th>Now</th><th></th></tr></thead><tbody>
${c.outcomes.map((o) => html`<tr data-key="${o.key}"><td>${o.title || o.key}</td><td>${o.from}</td><td>${o.to}</td><td>${o.regression ? html`<span class="regressed">regression</span>` : ''}</td></tr>`)}
</tbody></table>` : html`<p class="muted">No scenario changed outcome.</p>`}
${changed.length ? html`<h3>Figures that moved beyond the noise</h3>${metricDeltaTable(changed, titles)}` : html`<p class="muted">No figure moved beyond its noise band.</p>`}
${unchanged.length ? html`<details><summary>${unchanged.length} figures within their noise band</summary>${metricDeltaTable(unchanged, titles)}</details>` : ''}
</section>`;
}

function metricDeltaTable(rows: Comparison['metrics'], titles: Map<string, string>): Html {
  return html`<table class="deltas"><thead><tr><th>Scenario</th><th>Figure</th><th class="num">Baseline</th><th class="num">Now</th><th class="num">Change</th><th class="num">Noise ±</th><th></th></tr></thead><tbody>
${rows.map((m) => html`<tr data-key="${m.key}"><td>${titles.get(m.key) ?? m.key}</td><td>${m.name}</td>
<td class="num">${num(m.baseline)} ${m.unit}</td><td class="num">${num(m.current)} ${m.unit}</td>
<td class="num">${m.delta > 0 ? '+' : ''}${num(m.delta)} ${m.unit}${m.deltaPct === null ? '' : ` (${m.deltaPct > 0 ? '+' : ''}${num(Math.round(m.deltaPct * 10) / 10)} %)`}</td>
<td class="num">${num(m.noise)}</td><td class="${m.change}">${m.change}</td></tr>`)}
</tbody></table>`;
}

// --- security findings -------------------------------------------------------------------------

function findingsSection(findings: Finding[]): Html {
  return html`<section id="security">
<h2>Security findings</h2>
${findings.length === 0 ? html`<p class="muted">None: the device checked what this run tested.</p>` : html`<ul class="findings">
${findings.map((f) => html`<li data-severity="${f.severity}"><span class="badge verdict-${f.severity}">${f.severity === 'fail' ? 'unsafe' : 'weak'}</span> <b>${f.title}</b>
<ul>${f.evidence.map((e) => html`<li>${e.key ? html`<code>${e.key}</code>: ` : ''}${e.text}</li>`)}</ul></li>`)}
</ul>`}
</section>`;
}

// --- charts ------------------------------------------------------------------------------------

function chartsSection(charts: ChartSpec[], problem: string | null): Html {
  if (!charts.length) return html``;
  return html`<section id="charts">
<h2>Charts</h2>
${problem ? html`<p class="alert">Charts not drawn: ${problem}</p>` : ''}
<div class="charts">
${charts.map((c) => html`<figure class="chart" data-chart="${c.id}"><h3>${c.title}</h3><div class="plot"><canvas id="${c.id}" role="img" aria-label="${c.title}"></canvas></div><figcaption>${c.caption}</figcaption></figure>`)}
</div>
</section>`;
}

// --- the scenario table ------------------------------------------------------------------------

/** The board columns: the run's boards, and any board a result names that the run does not list. */
function columnsOf(results: RunResults): string[] {
  const ids = (results.run.boards ?? []).map((b) => b.id);
  for (const s of results.scenarios) if (s.board && !ids.includes(s.board)) ids.push(s.board);
  return ids;
}

function scenarioSection(results: RunResults): Html {
  const columns = columnsOf(results);
  // One row per scenario id; in a multi-board run its results on each board are its cells.
  const rows = new Map<string, ScenarioResult[]>();
  for (const s of results.scenarios) rows.set(s.id, [...(rows.get(s.id) ?? []), s]);
  const counts = countVerdicts(results.scenarios);
  return html`<section id="scenarios">
<h2>Scenarios</h2>
<div class="filters" role="group" aria-label="Show scenarios by verdict">
<button type="button" data-filter="all" aria-pressed="true">all (${results.scenarios.length})</button>
${VERDICTS.map((v) => html`<button type="button" data-filter="${v}" aria-pressed="false">${v} (${counts[v]})</button>`)}
</div>
<table class="scenarios">
<thead><tr><th>Scenario</th>${columns.length
    ? columns.map((c) => html`<th>${c}</th>`)
    : html`<th class="result">Result</th><th class="num">TLS ms</th><th class="num">Heap peak KiB</th>`}<th class="num time">Time</th></tr></thead>
${[...rows.values()].map((list) => scenarioRows(list, columns))}
${rows.size === 0 ? html`<tbody><tr><td colspan="${width(columns)}" class="muted">No scenario ran.</td></tr></tbody>` : ''}
</table>
</section>`;
}

/** How many columns the scenario table has. */
function width(columns: string[]): number {
  return 2 + (columns.length || 3);
}

/**
 * One scenario: its row, and under it a row across the whole table with its details. The page's
 * script folds the details of what passed (a click on the title opens them); without script,
 * everything is shown.
 */
function scenarioRows(list: ScenarioResult[], columns: string[]): Html {
  const first = list[0]!;
  const verdicts = [...new Set(list.map(verdictOf))];
  const time = list.reduce((t, s) => t + (Number.isFinite(s.durationMs) ? s.durationMs : 0), 0);
  const cells = columns.length
    ? columns.map((c) => {
      const s = list.find((x) => x.board === c);
      return s ? html`<td>${badge(s)}<br><span class="muted">${figure(metricOf(s, TLS_METRIC), 'ms')}</span></td>` : html`<td class="muted">—</td>`;
    })
    : html`<td>${badge(first)}</td><td class="num">${figure(metricOf(first, TLS_METRIC), '')}</td><td class="num">${figure(metricOf(first, HEAP_PEAK_METRIC), '', 1024)}</td>`;
  // What went wrong stays open; the rest opens on demand.
  const open = verdicts.some((v) => v === 'fail' || v === 'error');
  return html`<tbody class="scenario" data-id="${first.id}" data-verdicts="${verdicts.join(' ')}" data-open="${String(open)}">
<tr class="summary"><td><button type="button" class="toggle" aria-expanded="true">${first.title || first.id}</button> <span class="muted">${fileStem(first.file)}</span></td>
${cells}<td class="num">${duration(time)}</td></tr>
<tr class="details"><td colspan="${width(columns)}">
${list.map((s) => scenarioDetail(s, list.length > 1 || columns.length > 0))}
</td></tr>
</tbody>`;
}

function badge(s: ScenarioResult): Html {
  const v = verdictOf(s);
  return html`<span class="badge verdict-${v}">${v}</span>`;
}

/** The median (and p95 when repeated), with its source when it was not measured on the device. */
function figure(m: Metric | undefined, unit: string, divide = 1): string {
  if (!m || !Number.isFinite(m.median)) return '—';
  const f = (v: number) => num(Math.round((v / divide) * 10) / 10);
  const p95 = m.values.length > 1 && Number.isFinite(m.p95) ? ` (p95 ${f(m.p95)})` : '';
  const source = m.source === 'device' ? '' : ` ${m.source}`;
  return `${f(m.median)}${unit ? ` ${unit}` : ''}${p95}${source}`;
}

function scenarioDetail(s: ScenarioResult, showBoard: boolean): Html {
  const waits = reconnectIntervalsOf(s);
  return html`<div class="detail" data-key="${resultKey(s)}">
${showBoard ? html`<h3>${s.board ? `on ${s.board}` : 'result'}: ${badge(s)}</h3>` : ''}
<p class="muted">id <code>${s.id}</code> · ${s.repetitions} repetition${s.repetitions === 1 ? '' : 's'} · ${duration(s.durationMs)}${s.consoleLog ? html` · console log <code>${s.consoleLog}</code>` : ''}</p>
${s.failure ? html`<p><b>${s.outcome === 'skipped' ? 'Skipped' : s.failure.kind}:</b> ${s.failure.message}</p>${s.failure.detail ? html`<pre>${s.failure.detail}</pre>` : ''}` : ''}
${list('Warnings', s.warnings)}
${list('Notes', s.notes)}
${deviceResult(s.console ?? null)}
${waits ? html`<p><b>Reconnect intervals:</b> ${waits.map((w) => `${Math.round(w)}`).join(', ')} ms</p>` : ''}
${metricsTable(s.metrics)}
${attemptsTable(s.attempts)}
${consoleExcerpt(s.console ?? null)}
</div>`;
}

function list(title: string, items: string[] | undefined): Html {
  if (!items?.length) return html``;
  return html`<h3>${title}</h3><ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`;
}

function metricsTable(metrics: Metric[]): Html {
  if (!metrics.length) return html``;
  return html`<h3>Figures</h3><table class="metrics"><thead><tr><th>Figure</th><th class="num">Median</th><th class="num">p95</th><th class="num">Min</th><th class="num">Max</th><th>Source</th><th>Budget</th></tr></thead><tbody>
${metrics.map((m) => {
    const finite = m.values.filter(Number.isFinite);
    const b = m.budget;
    return html`<tr><td>${m.name}</td><td class="num">${num(m.median)} ${m.unit}</td><td class="num">${num(m.p95)}</td>
<td class="num">${finite.length ? num(Math.min(...finite)) : ''}</td><td class="num">${finite.length ? num(Math.max(...finite)) : ''}</td><td>${m.source}</td>
<td>${b ? html`<span class="${b.exceeded ? 'regressed' : ''}">${b.expression}${b.baseline !== undefined ? ` (baseline ${num(b.baseline)})` : ''}: ${b.exceeded ? 'exceeded' : 'within'}</span>` : ''}</td></tr>`;
  })}
</tbody></table>`;
}

/** What the broker saw: one line per attempt, from the lab's record as it wrote it. */
function attemptsTable(attempts: AttemptRecord[]): Html {
  if (!attempts.length) return html``;
  const field = (o: unknown, ...path: string[]): string => {
    let v: unknown = o;
    for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
    return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
  return html`<h3>The broker's record</h3><table class="attempts"><thead><tr><th>Listener</th><th>TLS</th><th>Protocol, cipher</th><th>MQTT</th><th>Closed</th></tr></thead><tbody>
${attempts.map((a) => html`<tr><td>${field(a, 'listener')}</td>
<td>${field(a, 'tls', 'outcome')}${field(a, 'tls', 'reason') ? ` (${field(a, 'tls', 'reason')})` : ''}</td>
<td>${field(a, 'tls', 'protocol')} ${field(a, 'tls', 'cipher')}</td>
<td>${mqttOf(a)}</td>
<td>${field(a, 'closed', 'reason') || field(a, 'closed', 'by')}</td></tr>`)}
</tbody></table>`;
}

function mqttOf(a: AttemptRecord): string {
  const m = a.mqtt as Record<string, unknown> | null | undefined;
  if (!m || typeof m !== 'object') return '';
  const parts: string[] = [];
  if (m.clientId !== undefined) parts.push(`client ${String(m.clientId)}`);
  // The lab records the CONNACK's return code (0 accepted, 5 not authorised); null: none was sent.
  if (typeof m.connack === 'number') parts.push(`CONNACK ${m.connack}`);
  else if (m.connack === null) parts.push('no CONNACK');
  return parts.join(', ');
}

/**
 * The device's connect result with its code names, read from the reply line in the console
 * excerpt (`@hil <id> ok {"connected": ...}`); the last one shown when it was repeated.
 */
function deviceResult(excerpt: ConsoleExcerpt | null): Html {
  const replies = (excerpt?.lines ?? []).flatMap((line) => {
    const m = /@hil \d+ (ok|err) (\{.*\})\s*$/.exec(line);
    if (!m) return [];
    try {
      const body = JSON.parse(m[2]!) as Record<string, unknown>;
      return m[1] === 'err' || 'connected' in body ? [{ status: m[1]!, body }] : [];
    } catch {
      return [];
    }
  });
  const last = replies.at(-1);
  if (!last) return html``;
  const b = last.body;
  const parts: string[] = [];
  if (last.status === 'err') parts.push(`refused the command: ${String(b.code ?? '')} ${String(b.message ?? '')}`.trim());
  else {
    parts.push(b.connected ? 'connected' : 'did not connect');
    const tls = b.tls as Record<string, unknown> | null;
    if (tls && typeof tls === 'object') parts.push([tls.version, tls.cipher].filter(Boolean).map(String).join(' '));
    const e = b.error as Record<string, unknown> | null;
    if (e && typeof e === 'object') {
      for (const k of ['esp_err_name', 'stack_err_name', 'mqtt_error_type']) if (e[k]) parts.push(String(e[k]));
      if (Array.isArray(e.verify_info) && e.verify_info.length) parts.push(`verify: ${e.verify_info.map(String).join('; ')}`);
      if (e.connack !== null && e.connack !== undefined) parts.push(`CONNACK ${String(e.connack)}`);
    }
  }
  return html`<p class="device-result"><b>Device's result:</b> ${parts.filter(Boolean).join(' · ')}</p>`;
}

function consoleExcerpt(excerpt: ConsoleExcerpt | null): Html {
  if (!excerpt?.lines.length) return html``;
  const width = String(excerpt.firstLine + excerpt.lines.length - 1).length;
  return html`<h3>Console <span class="muted">(lines ${excerpt.firstLine}–${excerpt.firstLine + excerpt.lines.length - 1}: ${excerpt.reason})</span></h3>
<pre class="console">${excerpt.lines.map((l, i) => html`<span class="n">${String(excerpt.firstLine + i).padStart(width)}  </span>${l}\n`)}</pre>`;
}
