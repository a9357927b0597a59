/**
 * summary.md: what a release manager pastes into release notes. One heading, one verdict, one
 * table, and the few settings without which a pass means nothing. Every modelled or host-measured
 * figure is marked, because a modelled time is not a measured time.
 */
import { securityFindings } from './findings.ts';
import { dateOf, duration, HEAP_PEAK_METRIC, metricOf, num, repetitionsOf, TLS_METRIC, verdictOf } from './format.ts';
import { resultKey, targetsOf, totalsOf, type Comparison, type ImageIdentity, type Metric, type Outcome, type RunResults, type ScenarioResult, type Source } from './model.ts';

const RESULT: Record<Outcome, string> = {
  passed: '✅ pass',
  failed: '❌ fail',
  error: '⚠️ error',
  skipped: '⏭ skipped',
};

const SOURCE_NOTE: Record<Source, string> = {
  device: 'measured by the firmware on the device',
  model: "estimated by the emulator's timing and heap models (Mbed TLS structure sizes, ESP32 crypto costs), not measured on a device",
  host: 'measured by the harness from outside the device, so it includes the link to the device',
};

export function toSummaryMarkdown(results: RunResults): string {
  const { run, scenarios } = results;
  const out: string[] = [`# ${heading(results)}`, '', identity(results)];
  if (run.image) out.push('', imageLine(run.image));
  out.push('', runLine(results));
  if (run.boards?.length) {
    out.push('', 'Boards:', ...run.boards.map((b) => `- ${inline(`${b.id}: ${b.target}${b.port ? ` (${b.port})` : ''}, device ${b.deviceId}` +
      `${b.firmware ? `, ${b.firmware.project} ${b.firmware.version}` : ''}${b.infrastructureError ? ` — unreachable: ${b.infrastructureError}` : ''}`)}`));
  }
  out.push('', `**${verdictOf(totalsOf(scenarios))}**`);
  if (run.infrastructureError) out.push('', `> ⚠️ Infrastructure: ${inline(run.infrastructureError)}`);
  if (run.cutShort) out.push('', `> ⚠️ Run cut short: ${inline(run.cutShort)}`);
  // (reports written before these fields existed have neither)
  for (const w of run.warnings ?? []) out.push('', `> ⚠️ Warning: ${inline(w)}`);
  if (run.notes?.length) out.push('', 'Device output outside any scenario:', ...run.notes.map((n) => `- ${inline(n)}`));

  const marked = new Set<Source>();
  const columns: Columns = {
    board: scenarios.some((s) => s.board) || !!run.boards?.length,
    // p95 says something only when a scenario ran more than once.
    p95: scenarios.some((s) => s.metrics.some((m) => m.values.length > 1)),
  };
  const head = ['Scenario', ...(columns.board ? ['Board'] : []), 'Result', 'TLS ms (median)', ...(columns.p95 ? ['TLS ms (p95)'] : []), 'Heap peak (KiB)', 'Note'];
  const align = ['---', ...(columns.board ? ['---'] : []), '---', '--:', ...(columns.p95 ? ['--:'] : []), '--:', '---'];
  out.push('', `| ${head.join(' | ')} |`, `|${align.join('|')}|`);
  for (const s of scenarios) out.push(row(s, marked, columns));
  if (!scenarios.length) out.push(`| (no scenario ran) |${' |'.repeat(head.length - 1)}`);
  const warned = scenarios.flatMap((s) => (s.warnings ?? []).map((w) => `- ${inline(s.title || s.id)}: ${inline(w)}`));
  if (warned.length) out.push('', 'Warnings:', ...warned);
  if (results.comparison) out.push('', ...comparison(results.comparison, scenarios));
  const findings = securityFindings(results);
  if (findings.length) {
    out.push('', 'Security findings:', ...findings.map((f) => `- ${f.severity === 'fail' ? '❌' : '⚠️'} ${inline(f.title)}: ` +
      inline(f.evidence.map((e) => (e.key ? `${e.key}: ${e.text}` : e.text)).join('; '))));
  }

  out.push('', `Settings that change outcomes: ${settings(run.security)}`);
  out.push('', `Figures without a marker were ${SOURCE_NOTE.device}.`);
  for (const source of ['model', 'host'] as const) {
    if (marked.has(source)) out.push('', `[^${source}]: \`${source}\`: ${SOURCE_NOTE[source]}.`);
  }
  out.push('');
  return out.join('\n');
}

function heading(results: RunResults): string {
  const { run } = results;
  const named = run.firmware ?? run.image;
  const fw = named ? `${named.project} ${named.version}` : `run ${run.id}`;
  return inline(`${fw} on ${targetsOf(run).join(', ')}, ${dateOf(run.startedAt)}`);
}

/** The rest of "which firmware": what tells two builds with the same version number apart. */
function identity(results: RunResults): string {
  const { run } = results;
  const fw = run.firmware;
  const parts = fw
    ? [`ESP-IDF ${fw.idf}`, `chip ${fw.chip}`, `MAC ${fw.mac}`, `agent ${fw.agent}`,
       fw.elfSha256 ? `ELF SHA-256 \`${fw.elfSha256}\`` : 'ELF SHA-256 unknown']
    : [`firmware unknown (${targetsOf(run).some((t) => t.includes('firmware')) ? 'no boot banner from the device' : 'no hello from the device'})`];
  if (run.port) parts.push(`port \`${run.port}\``);
  parts.push(`run \`${run.id}\``, `hilt ${run.hiltVersion}`);
  return inline(parts.join(' · '));
}

/** The image under test as the build's descriptor gives it, and what became of it. */
function imageLine(image: ImageIdentity): string {
  const how = image.state === 'flashed' ? 'flashed and verified by MD5' : 'already running, not flashed';
  const seen = image.confirmedBy ? `, the board confirmed it (${image.confirmedBy})` : ', not confirmed by the board';
  return inline(`Image: ${image.project} ${image.version} · ESP-IDF ${image.idf} · built ${image.builtAt} · ` +
    `ELF SHA-256 \`${image.elfSha256}\` · ${how} from \`${image.buildDir}\`${seen}`);
}

/** How long, how many times, which part: what a figure in the table rests on. */
function runLine(results: RunResults): string {
  const { run } = results;
  const repeat = repetitionsOf(results);
  const parts = [`Duration ${duration(run.durationMs)}`, `${repeat} repetition${repeat === 1 ? '' : 's'} per scenario`];
  if (run.shard) parts.push(`shard ${run.shard.index} of ${run.shard.count}`);
  if (run.mergedFrom?.length) parts.push(`merged from ${run.mergedFrom.length} runs (${run.mergedFrom.join(', ')})`);
  return inline(parts.join(' · '));
}

interface Columns { board: boolean; p95: boolean }

const ms = (v: number) => (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0));

function row(s: ScenarioResult, marked: Set<Source>, columns: Columns): string {
  const tls = metricOf(s, TLS_METRIC);
  const heap = metricOf(s, HEAP_PEAK_METRIC);
  const cells = [
    cell(s.title || s.id),
    ...(columns.board ? [cell(s.board ?? '')] : []),
    RESULT[s.outcome] + warningCount(s),
    figure(tls, ms, marked),
    ...(columns.p95 ? [figure(tls, ms, marked, 'p95')] : []),
    figure(heap, (v) => (v / 1024).toFixed(1), marked),
    cell(note(s)),
  ];
  return `| ${cells.join(' | ')} |`;
}

/** What changed since the baseline: its identity, the regressions, outcomes and figures that moved. */
function comparison(c: Comparison, scenarios: ScenarioResult[]): string[] {
  const titles = new Map(scenarios.map((s) => [resultKey(s), s.title || s.id]));
  const base = c.baseline;
  const fw = base.firmware ? `${base.firmware.project} ${base.firmware.version}` : `run ${base.runId}`;
  const out = [`## Compared with ${inline(fw)} (${dateOf(base.startedAt)})`, '',
    `**${c.regressions} regression${c.regressions === 1 ? '' : 's'}** against run \`${inline(base.runId)}\` (${inline(base.path)}).`];
  if (c.outcomes.length) {
    out.push('', 'Outcomes that changed:', ...c.outcomes.map((o) => `- ${inline(o.title || o.key)}: ${o.from} → ${o.to}${o.regression ? ' (regression)' : ''}`));
  }
  const moved = c.metrics.filter((m) => m.change !== 'unchanged');
  if (moved.length) {
    out.push('', '| Scenario | Figure | Baseline | Now | Change | Noise ± | |', '|---|---|--:|--:|--:|--:|---|');
    for (const m of moved) {
      const sign = (v: number) => (v > 0 ? '+' : '');
      const pct = m.deltaPct === null ? '' : ` (${sign(m.deltaPct)}${num(Math.round(m.deltaPct * 10) / 10)} %)`;
      out.push(`| ${cell(titles.get(m.key) ?? m.key)} | ${cell(m.name)} | ${num(m.baseline)} ${m.unit} | ${num(m.current)} ${m.unit} | ` +
        `${sign(m.delta)}${num(m.delta)} ${m.unit}${pct} | ${num(m.noise)} | ${m.change} |`);
    }
  }
  const same = c.metrics.length - moved.length;
  out.push('', `${same} figure${same === 1 ? '' : 's'} within ${same === 1 ? 'its' : 'their'} noise band.`);
  return out;
}

/** " (2 warnings)" after a pass with warnings; they are listed under the table. */
function warningCount(s: ScenarioResult): string {
  const n = s.warnings?.length ?? 0;
  return n === 0 ? '' : ` (${n} ${n === 1 ? 'warning' : 'warnings'})`;
}

/** The median (or p95), marked with its source unless it was measured on the device. */
function figure(m: Metric | undefined, format: (v: number) => string, marked: Set<Source>, which: 'median' | 'p95' = 'median'): string {
  if (!m || !Number.isFinite(m[which])) return '—';
  if (m.source === 'device') return format(m[which]);
  marked.add(m.source);
  return `${format(m[which])}[^${m.source}]`;
}

/** The failure as a release manager reads it, plus any budget it broke that it does not name. */
function note(s: ScenarioResult): string {
  const parts = s.failure ? [inline(s.failure.message).trim()] : [];
  // Notes are what a passing scenario still wants read ("host name check skipped").
  for (const n of s.notes ?? []) parts.push(inline(n).trim());
  for (const m of s.metrics) {
    const b = m.budget;
    if (b?.exceeded && !parts.some((p) => p.includes(b.expression))) {
      parts.push(`budget ${b.expression} exceeded: ${Math.round(b.measured * 1000) / 1000}`);
    }
  }
  return parts.join('; ');
}

/**
 * The Mbed TLS options that decide scenarios outright: without MBEDTLS_HAVE_TIME_DATE the device
 * never checks certificate dates (an expired server certificate is accepted), TLS 1.3 changes
 * which suites and alerts are seen, dynamic buffers change the heap figures.
 */
function settings(security: Record<string, unknown> | null): string {
  if (!security) return 'unknown (the device did not report them)';
  const flag = (key: string) => (security[key] === true ? 'on' : security[key] === false ? 'off' : 'not reported');
  const line = [
    `HAVE_TIME_DATE ${flag('have_time_date')}`,
    `TLS 1.3 ${flag('tls13')}`,
    `dynamic buffers ${flag('dynamic_buffer')}`,
  ].join(' · ');
  return security.have_time_date === false ? `${line} (certificate dates are not checked)` : line;
}

/** Text for a table cell: a `|` would end the cell and a newline the row. */
function cell(s: string): string {
  return inline(s).replace(/\|/g, '\\|');
}

/**
 * One line of markdown from any text: newlines become `<br>` (GitHub renders them in tables),
 * console colour codes and other control characters go, and a `<` that could open an HTML tag
 * is escaped so "<none>" is not swallowed; "tls_ms <= 2000" stays readable as pasted.
 */
function inline(s: string): string {
  return s
    .replace(/\r\n?|\n/g, '<br>')
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/[\u0000-\u001F\u007F]/g, '')
    .replace(/<(?=[A-Za-z/!?])(?!br>)/g, '&lt;');
}
