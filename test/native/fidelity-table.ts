/**
 * Regenerates the comparison table of docs/fidelity.md: runs every case of
 * test/native/differential.ts on the emulator and on the host agent, and replaces what lies
 * between the table markers of the file with the result. Everything else in the file is left
 * as it is (other sections are written by hand).
 *
 *   npx tsx test/native/fidelity-table.ts [docs/fidelity.md]
 *
 * Exit 0 when written, 2 when the file has no markers, 3 when the host agent cannot be built or run.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { NativeBuildError } from '../../harness/native/build.ts';
import { compareAll, KNOWN, type Observation, type Row } from './differential.ts';

const BEGIN = '<!-- fidelity-table:begin (npx tsx test/native/fidelity-table.ts) -->';
const END = '<!-- fidelity-table:end -->';

const hex = (n: unknown) => typeof n === 'number' ? `0x${n.toString(16)}` : String(n);

/** One cell: what the host agent (the library) reported. */
function outcome(o: Observation): string {
  if (o.connected) return `connected ${o.tls?.version} ${o.tls?.cipher}`;
  const e = o.error!;
  const parts = [String(e.esp_err_name)];
  if (e.stack_err) parts.push(`-${hex(e.stack_err)}`);
  if (e.verify_flags) parts.push(`flags ${hex(e.verify_flags)}`);
  if (e.connack !== null) parts.push(`CONNACK ${e.connack}`);
  if (e.sock_errno) parts.push(`errno ${e.sock_errno}`);
  return parts.join(' ');
}

/** Where a low-heap case ran: each device's free heap, from its own split (they may differ). */
function heapCell(r: Row): string {
  const b = (n: number | undefined) => n === undefined ? '?' : `${n.toLocaleString('en-US')} B`;
  return r.native.leave === undefined ? '' : ` (free: ${b(r.native.leave)}; emulator ${b(r.emulator.leave)})`;
}

/** The timing phases the host agent reached, as the structure both devices must share. */
function timingCell(o: Observation): string {
  return o.timing.by === 'host' ? 'none sent (host measured)' : o.timing.reached.join(' ');
}

function differs(row: Row): string {
  const fields = Object.keys(row.differences);
  if (fields.length === 0) return 'same';
  const known = KNOWN[row.case.name] ?? {};
  return fields.map((f) => known[f] ? `${f} (known, see above)` : `**${f}** (not explained)`).join('; ');
}

export function table(rows: Row[]): string {
  const same = rows.filter((r) => Object.keys(r.differences).length === 0).length;
  return [
    `${rows.length} cases; ${same} identical on every compared field. Generated ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| case | command | host agent (Mbed TLS 3.6.6) | timing phases | emulator differs in |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.case.name} | ${r.case.command} | ${(outcome(r.native) + heapCell(r)).replaceAll('|', '\\|')} | ${timingCell(r.native)} | ${differs(r).replaceAll('|', '\\|')} |`),
  ].join('\n');
}

async function main(): Promise<number> {
  const file = process.argv[2] ?? 'docs/fidelity.md';
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    process.stderr.write(`fidelity-table: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): give the path of docs/fidelity.md\n`);
    return 2;
  }
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) {
    process.stderr.write(`fidelity-table: ${file} has no "${BEGIN}" ... "${END}" markers: add them where the table goes\n`);
    return 2;
  }
  let rows: Row[] | null;
  try {
    rows = await compareAll((line) => process.stderr.write(`${line}\n`));
  } catch (err) {
    // A missing toolchain, a build that failed, an agent that would not start: one line.
    const what = err instanceof NativeBuildError ? 'cannot build the host agent' : 'the comparison stopped';
    process.stderr.write(`fidelity-table: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 3;
  }
  if (!rows) {
    process.stderr.write('fidelity-table: firmware/Makefile has no agent target: nothing to compare with\n');
    return 3;
  }
  await writeFile(file, `${text.slice(0, start + BEGIN.length)}\n${table(rows)}\n${text.slice(end)}`);
  process.stderr.write(`fidelity-table: ${file}: ${rows.length} cases written\n`);
  return 0;
}

process.exitCode = await main();
