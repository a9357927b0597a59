/**
 * junit.xml: the run as CI servers (Jenkins, GitLab, GitHub test reporters) read it. Written from
 * hilt's own model rather than by a mocha reporter: mocha-junit-reporter crashes under mocha 12,
 * and mocha's xunit counts failed assertions as errors, where hilt keeps the difference that
 * matters here: `failure` is the firmware's fault, `error` means the device or the lab broke (as
 * AWS IoT Device Tester reports it), so a red build can be told from a broken bench.
 */
import { excerptText, fileStem, num, seconds, skipReason } from './format.ts';
import { resultKey, targetsOf, totalsOf, type Comparison, type Metric, type RunResults, type ScenarioResult } from './model.ts';
import { xmlAttrs, xmlText } from './xml.ts';

type Property = [name: string, value: string];

export function toJUnitXml(results: RunResults): string {
  const { run } = results;
  // A run that broke down (device or lab unreachable) is an error test case of its own, as AWS IoT
  // Device Tester reports it: CI servers then show it red instead of "0 tests".
  const scenarios = run.infrastructureError ? [...results.scenarios, infrastructureCase(run)] : results.scenarios;
  // Counted from the scenarios written below, not copied from results.totals, so the file always
  // agrees with itself even if a caller's totals are stale.
  const totals = totalsOf(scenarios);
  const counts = {
    tests: scenarios.length,
    failures: totals.failed,
    errors: totals.error,
    skipped: totals.skipped,
    time: seconds(run.durationMs),
    timestamp: junitTimestamp(run.startedAt),
  };
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${xmlAttrs({ name: 'hilt', ...counts })}>`,
    `  <testsuite${xmlAttrs({ name: `hilt ${targetsOf(run).join(', ')}`, ...counts })}>`,
    ...properties(runProperties(results), '    '),
    ...scenarios.flatMap((s) => testcase(s, '    ', results.comparison ?? null)),
  ];
  // A run that stopped before its scenarios may have no testcase to carry the reason: say it here
  // too, where a CI server shows suite output.
  const why = [run.infrastructureError, run.cutShort].filter((x): x is string => !!x);
  if (why.length) lines.push(`    <system-err>${xmlText(why.join('\n'))}</system-err>`);
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

function infrastructureCase(run: RunResults['run']): ScenarioResult {
  return {
    id: 'hilt/infrastructure', title: 'device and lab reachable', file: 'hilt', outcome: 'error', durationMs: 0,
    repetitions: 0, metrics: [], attempts: [], consoleLog: null,
    failure: { kind: 'infrastructure', message: run.infrastructureError! },
  };
}

/**
 * The Ant schema's timestamp has no zone and no fraction; readers that parse it strictly refuse
 * more. Written in UTC (the exact start is in the `run.started_at` property).
 */
function junitTimestamp(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 19);
}

/** What identifies the run: enough to tell which firmware, configuration and lab produced it. */
function runProperties(results: RunResults): Property[] {
  const { run } = results;
  const props: Property[] = [
    ['hilt.version', run.hiltVersion],
    ['target', run.target],
    ...(run.port ? [['port', run.port] as Property] : []),
    ['run.id', run.id],
    ['run.started_at', run.startedAt],
  ];
  const fw = run.firmware;
  if (fw) {
    props.push(['firmware.project', fw.project], ['firmware.version', fw.version], ['firmware.idf', fw.idf]);
    // Left out, not written empty, when the firmware does not know its ELF hash (the emulator).
    if (fw.elfSha256) props.push(['firmware.elf_sha256', fw.elfSha256]);
    props.push(['firmware.agent', fw.agent], ['firmware.chip', fw.chip], ['firmware.mac', fw.mac]);
  }
  const image = run.image;
  if (image) {
    props.push(['image.project', image.project], ['image.version', image.version], ['image.idf', image.idf],
      ['image.elf_sha256', image.elfSha256], ['image.built_at', image.builtAt], ['image.build_dir', image.buildDir],
      ['image.state', image.state], ['image.confirmed_by', image.confirmedBy ?? 'none']);
  }
  if (run.security) flatten('security', run.security, props);
  for (const t of run.fingerprints.trust) props.push([`trust.${t.name}.sha256`, t.sha256]);
  for (const s of run.fingerprints.served) props.push([`served.${s.listener}.${s.name}.sha256`, s.sha256]);
  if (run.cutShort) props.push(['run.cut_short', run.cutShort]);
  if (run.infrastructureError) props.push(['run.infrastructure_error', run.infrastructureError]);
  (run.warnings ?? []).forEach((w, i) => props.push([`run.warning.${i + 1}`, w]));
  (run.notes ?? []).forEach((n, i) => props.push([`run.note.${i + 1}`, n]));
  if (run.repeat !== undefined) props.push(['run.repeat', String(run.repeat)]);
  for (const b of run.boards ?? []) {
    props.push([`board.${b.id}.target`, b.target], [`board.${b.id}.device_id`, b.deviceId]);
    if (b.firmware) props.push([`board.${b.id}.firmware`, `${b.firmware.project} ${b.firmware.version} (${b.firmware.idf})`]);
    if (b.infrastructureError) props.push([`board.${b.id}.infrastructure_error`, b.infrastructureError]);
  }
  if (run.shard) props.push(['run.shard', `${run.shard.index}/${run.shard.count}`]);
  if (run.mergedFrom?.length) props.push(['run.merged_from', run.mergedFrom.join(',')]);
  if (results.comparison) props.push(...comparisonProperties(results.comparison));
  return props;
}

/**
 * The comparison with the baseline, for CI servers that show suite properties: what it was
 * compared with, how many regressions, and each change (an outcome, a figure beyond its noise).
 */
function comparisonProperties(c: Comparison): Property[] {
  const props: Property[] = [
    ['comparison.baseline.run_id', c.baseline.runId],
    ['comparison.baseline.path', c.baseline.path],
  ];
  if (c.baseline.firmware) props.push(['comparison.baseline.firmware', `${c.baseline.firmware.project} ${c.baseline.firmware.version}`]);
  props.push(['comparison.regressions', String(c.regressions)]);
  for (const o of c.outcomes) props.push([`comparison.outcome.${o.key}`, `${o.from} -> ${o.to}${o.regression ? ' (regression)' : ''}`]);
  for (const m of c.metrics) {
    if (m.change !== 'unchanged') props.push([`comparison.${m.key}.${m.name}`, metricChange(m)]);
  }
  return props;
}

/** "1900 -> 2470 ms (+570, +30 %; noise 60): regressed". */
function metricChange(m: Comparison['metrics'][number]): string {
  const sign = (v: number) => (v > 0 ? '+' : '');
  const pct = m.deltaPct === null ? '' : `, ${sign(m.deltaPct)}${num(Math.round(m.deltaPct * 10) / 10)} %`;
  return `${num(m.baseline)} -> ${num(m.current)} ${m.unit} (${sign(m.delta)}${num(m.delta)}${pct}; noise ${num(m.noise)}): ${m.change}`;
}

/** Nested settings become dotted names; lists (ciphersuites) one comma-separated value. */
function flatten(prefix: string, value: unknown, out: Property[]): void {
  if (Array.isArray(value)) {
    out.push([prefix, value.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',')]);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(`${prefix}.${k}`, v, out);
  } else {
    out.push([prefix, String(value)]);
  }
}

function testcase(s: ScenarioResult, indent: string, comparison: Comparison | null): string[] {
  // Each board's result is a test case of its own: CI servers key test cases by class and name.
  const name = `${s.title || s.id}${s.board ? ` [${s.board}]` : ''}`;
  const head = `${indent}<testcase${xmlAttrs({ classname: fileStem(s.file), name, time: seconds(s.durationMs) })}`;
  const body = [
    ...properties(scenarioProperties(s, comparison), `${indent}  `),
    ...verdict(s, `${indent}  `),
  ];
  const out = [
    ...(s.warnings ?? []).map((w) => `warning: ${w}`),
    ...(s.notes ?? []).map((n) => `note: ${n}`),
    ...(s.consoleLog ? [`console log: ${s.consoleLog}`] : []),
  ];
  if (out.length > 0) body.push(`${indent}  <system-out>${xmlText(out.join('\n'))}</system-out>`);
  return body.length ? [`${head}>`, ...body, `${indent}</testcase>`] : [`${head}/>`];
}

function scenarioProperties(s: ScenarioResult, comparison: Comparison | null): Property[] {
  const props: Property[] = [['id', s.id], ['repetitions', String(s.repetitions)]];
  if (s.board) props.push(['board', s.board]);
  // One property per warning, all under the same name: CI plugins list repeated properties.
  for (const w of s.warnings ?? []) props.push(['warning', w]);
  for (const m of s.metrics) props.push(...metricProperties(m));
  if (comparison) {
    const key = resultKey(s);
    const changed = comparison.outcomes.find((o) => o.key === key);
    if (changed) props.push(['baseline.outcome', changed.from]);
    for (const m of comparison.metrics.filter((x) => x.key === key)) props.push([`${m.name}.baseline`, metricChange(m)]);
  }
  return props;
}

function metricProperties(m: Metric): Property[] {
  const props: Property[] = [];
  // A metric with no values has no median; an empty property would read as zero in some viewers.
  if (num(m.median)) props.push([`${m.name}.median`, num(m.median)]);
  if (num(m.p95)) props.push([`${m.name}.p95`, num(m.p95)]);
  props.push([`${m.name}.unit`, m.unit], [`${m.name}.source`, m.source]);
  if (m.budget) {
    const b = m.budget;
    props.push([`${m.name}.budget`, `${b.expression} (measured ${num(b.measured)}: ${b.exceeded ? 'exceeded' : 'within'})`]);
  }
  return props;
}

/** The one child element that says how the scenario ended; nothing for a pass. */
function verdict(s: ScenarioResult, indent: string): string[] {
  const f = s.failure;
  switch (s.outcome) {
    case 'passed':
      return [];
    case 'skipped':
      return [`${indent}<skipped${xmlAttrs({ message: skipReason(s) ?? undefined })}/>`];
    case 'failed':
    case 'error': {
      const tag = s.outcome === 'failed' ? 'failure' : 'error';
      // The model allows an outcome without its reason; the file must still say something.
      const message = f?.message ?? `${s.outcome} (no reason recorded)`;
      const type = f?.kind ?? (s.outcome === 'failed' ? 'assertion' : 'infrastructure');
      // The console lines that mattered follow the detail: what a CI page shows of a failure.
      const text = [f?.detail ?? message, ...(s.console?.lines.length ? ['', excerptText(s)] : [])].join('\n');
      return [`${indent}<${tag}${xmlAttrs({ message, type })}>${xmlText(text)}</${tag}>`];
    }
  }
}

function properties(props: Property[], indent: string): string[] {
  if (!props.length) return [];
  return [
    `${indent}<properties>`,
    ...props.map(([name, value]) => `${indent}  <property${xmlAttrs({ name, value })}/>`),
    `${indent}</properties>`,
  ];
}
