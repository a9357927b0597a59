/**
 * summary.md: what a release manager pastes into release notes. One heading, one verdict, one
 * table, and the few settings without which a pass means nothing. Every modelled or host-measured
 * figure is marked, because a modelled time is not a measured time.
 */
import { dateOf, HEAP_PEAK_METRIC, metricOf, TLS_METRIC, verdictOf } from './format.ts';
import { totalsOf, type ImageIdentity, type Metric, type Outcome, type RunResults, type ScenarioResult, type Source } from './model.ts';

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
  out.push('', `**${verdictOf(totalsOf(scenarios))}**`);
  if (run.infrastructureError) out.push('', `> ⚠️ Infrastructure: ${inline(run.infrastructureError)}`);
  if (run.cutShort) out.push('', `> ⚠️ Run cut short: ${inline(run.cutShort)}`);
  // (reports written before these fields existed have neither)
  for (const w of run.warnings ?? []) out.push('', `> ⚠️ Warning: ${inline(w)}`);
  if (run.notes?.length) out.push('', 'Device output outside any scenario:', ...run.notes.map((n) => `- ${inline(n)}`));

  const marked = new Set<Source>();
  out.push('', '| Scenario | Result | TLS ms (median) | Heap peak (KiB) | Note |', '|---|---|--:|--:|---|');
  for (const s of scenarios) out.push(row(s, marked));
  if (!scenarios.length) out.push('| (no scenario ran) | | | | |');
  const warned = scenarios.flatMap((s) => (s.warnings ?? []).map((w) => `- ${inline(s.title || s.id)}: ${inline(w)}`));
  if (warned.length) out.push('', 'Warnings:', ...warned);

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
  return inline(`${fw} on ${run.target}, ${dateOf(run.startedAt)}`);
}

/** The rest of "which firmware": what tells two builds with the same version number apart. */
function identity(results: RunResults): string {
  const { run } = results;
  const fw = run.firmware;
  const parts = fw
    ? [`ESP-IDF ${fw.idf}`, `chip ${fw.chip}`, `MAC ${fw.mac}`, `agent ${fw.agent}`,
       fw.elfSha256 ? `ELF SHA-256 \`${fw.elfSha256}\`` : 'ELF SHA-256 unknown']
    : [`firmware unknown (${run.target.includes('firmware') ? 'no boot banner from the device' : 'no hello from the device'})`];
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

function row(s: ScenarioResult, marked: Set<Source>): string {
  const tls = metricOf(s, TLS_METRIC);
  const heap = metricOf(s, HEAP_PEAK_METRIC);
  const cells = [
    cell(s.title || s.id),
    RESULT[s.outcome] + warningCount(s),
    figure(tls, (v) => (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)), marked),
    figure(heap, (v) => (v / 1024).toFixed(1), marked),
    cell(note(s)),
  ];
  return `| ${cells.join(' | ')} |`;
}

/** " (2 warnings)" after a pass with warnings; they are listed under the table. */
function warningCount(s: ScenarioResult): string {
  const n = s.warnings?.length ?? 0;
  return n === 0 ? '' : ` (${n} ${n === 1 ? 'warning' : 'warnings'})`;
}

/** The median, marked with its source unless it was measured on the device. */
function figure(m: Metric | undefined, format: (v: number) => string, marked: Set<Source>): string {
  if (!m || !Number.isFinite(m.median)) return '—';
  if (m.source === 'device') return format(m.median);
  marked.add(m.source);
  return `${format(m.median)}[^${m.source}]`;
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
