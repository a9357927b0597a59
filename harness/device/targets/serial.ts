/**
 * `serial:/dev/ttyUSB0[?baud=115200&reset=hard&download=classic&mode=firmware]`: a board on a
 * serial port (USB bridge, pty); or by identity, for boards that re-enumerate (USB-Serial/JTAG
 * does on every reset) or move between ports: `serial:?serial_number=X`, `serial:?vid=303a&pid=1001`,
 * `serial:?location=1-1.2`. An identity is looked up again each time the port is opened (after a
 * reset or a disconnect), with bounded retries; the port found is the target's resolvedPort.
 *
 * reset=none    today's behaviour: no modem line is touched; hello only between scenarios
 * reset=hard    (or hard-usb, or a custom sequence such as R1|W200|R0) the hardware reset a
 *               firmware board gets between scenarios; default: the bridge's own (BRIDGES)
 * download=...  the sequence(s) into download mode (classic, unix-tight, usb-jtag, a custom one)
 * hilt.config.json "bench": {"reset": {"hard": ..., "download": [...]}} does the same for every
 * serial target; an option on the target wins.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../errors.ts';
import { listPorts, type PortInfo } from '../../transport/ports.ts';
import type { SerialTransport } from '../../transport/serial.ts';
import { TransportError } from '../../transport/transport.ts';
import {
  SEQUENCES, bridgeFor, hardReset, isSequenceName, parseResetSequence, runResetSequence, sequenceFrom, type Bridge, type ResetSequence,
} from '../reset-sequence.ts';
import type { BenchSettings, TargetKind } from './target.ts';
import { intOption, modeOption, targetOptions } from './options.ts';

export interface PortIdentity {
  serialNumber?: string;
  vid?: string;
  pid?: string;
  location?: string;
}

/** How often, and how far apart, an identity is looked for: a re-enumerating board takes ~1-2 s. */
export const RESOLVE_TRIES = 10;
export const RESOLVE_INTERVAL_MS = 300;

function hexId(url: string, key: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:0x)?([0-9a-f]{1,4})$/i.exec(value);
  if (!m) throw new UsageError(`target ${url}: ${key}=${value}: give a USB id in hex, e.g. vid=303a&pid=1001`);
  return m[1]!.toLowerCase().padStart(4, '0');
}

function identityOf(url: string, o: Map<string, string>): PortIdentity | null {
  const id: PortIdentity = {};
  const serialNumber = o.get('serial_number');
  if (serialNumber !== undefined) id.serialNumber = serialNumber;
  const vid = hexId(url, 'vid', o.get('vid'));
  const pid = hexId(url, 'pid', o.get('pid'));
  if (pid !== undefined && vid === undefined) throw new UsageError(`target ${url}: pid=${o.get('pid')} needs its vid: write vid=303a&pid=1001`);
  if (vid !== undefined) id.vid = vid;
  if (pid !== undefined) id.pid = pid;
  const location = o.get('location');
  if (location !== undefined) id.location = location;
  return Object.keys(id).length ? id : null;
}

export function describeIdentity(id: PortIdentity): string {
  return [
    id.serialNumber !== undefined ? `serial_number=${id.serialNumber}` : '', id.vid ? `vid=${id.vid}` : '', id.pid ? `pid=${id.pid}` : '',
    id.location !== undefined ? `location=${id.location}` : '',
  ].filter(Boolean).join('&');
}

export function matchesIdentity(p: PortInfo, id: PortIdentity): boolean {
  return (id.serialNumber === undefined || p.serialNumber?.toLowerCase() === id.serialNumber.toLowerCase())
    && (id.vid === undefined || p.vid === id.vid) && (id.pid === undefined || p.pid === id.pid)
    && (id.location === undefined || p.location === id.location);
}

const portWords = (p: PortInfo) => `${p.path}${p.vid ? ` (${p.vid}:${p.pid ?? '?'}${p.serialNumber ? ` serial ${p.serialNumber}` : ''}${p.location ? ` at ${p.location}` : ''})` : ''}`;

/** The one port with this identity, looked for up to `tries` times (a board re-enumerating). */
export async function resolvePort(url: string, id: PortIdentity, tries = RESOLVE_TRIES, intervalMs = RESOLVE_INTERVAL_MS): Promise<PortInfo> {
  let last = await listPorts();
  for (let attempt = 1; ; attempt++) {
    const found = last.ports.filter((p) => matchesIdentity(p, id));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw new UsageError(`target ${url}: ${found.length} ports match ${describeIdentity(id)}: ${found.map(portWords).join(', ')}; add serial_number= or location= to pick one (npx hilt ports lists them)`);
    }
    if (last.by === 'dev') {
      throw new UsageError(`target ${url}: cannot find a port by identity here: ${last.source}; give the port's path, e.g. serial:/dev/ttyUSB0`);
    }
    if (attempt >= tries) break;
    await sleep(intervalMs);
    last = await listPorts();
  }
  const seen = last.ports.length ? last.ports.map(portWords).join(', ') : 'none';
  throw new TransportError(`target ${url}: no serial port has ${describeIdentity(id)} (looked ${tries} times over ${(tries - 1) * intervalMs} ms); ports found: ${seen} (${last.source}): check the board is plugged in (npx hilt ports)`);
}

/** reset=: none, a named hard-reset sequence, or a custom one; a download sequence is refused here. */
function resetChoice(url: string, value: string | undefined): ResetSequence | 'none' | undefined {
  if (value === undefined || value === 'none') return value;
  if (value === 'hello') return 'none';
  if (value === 'agent') return undefined;
  if (isSequenceName(value) && SEQUENCES[value].expect === 'download') {
    throw new UsageError(`target ${url}: reset=${value} enters download mode: give it as download=${value}; reset= takes none, hard, hard-usb or a custom sequence`);
  }
  try {
    return sequenceFrom(value, 'flash');
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`target ${url}: reset=: ${err.message}; or use reset=none or reset=hard`);
    throw err;
  }
}

function downloadChoice(url: string, value: string | undefined): ResetSequence[] | undefined {
  if (value === undefined) return undefined;
  try {
    return value.split(',').map((v) => (isSequenceName(v) ? SEQUENCES[v] : parseResetSequence(v, 'download')));
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`target ${url}: download=: ${err.message}`);
    throw err;
  }
}

export const serialTarget: TargetKind = {
  kind: 'serial',
  summary: 'serial:/dev/ttyUSB0 | serial:?serial_number=X | ?vid=303a&pid=1001 | ?location=1-1.2 [&baud=115200&reset=none|hard|SEQ&download=classic&mode=firmware]  a board on a serial port',
  parse(rest, query, url, context = {}) {
    const o = targetOptions(url, query, ['baud', 'reset', 'download', 'mode', 'serial_number', 'vid', 'pid', 'location']);
    const identity = identityOf(url, o);
    if (identity && rest !== '') throw new UsageError(`target ${url}: give the port's path or its identity, not both: serial:${rest} or serial:?${describeIdentity(identity)}`);
    if (!identity && !rest.startsWith('/')) throw new UsageError(`target ${url}: give the port's path, e.g. serial:/dev/ttyUSB0, or its identity, e.g. serial:?serial_number=0001`);
    const baudRate = intOption(url, 'baud', o.get('baud'), 115_200, 300, 5_000_000);
    const mode = modeOption(url, o.get('mode'));
    const bench: BenchSettings = context.bench ?? {};
    const resetOpt = resetChoice(url, o.get('reset'));
    const downloadOpt = downloadChoice(url, o.get('download'));
    let opened: SerialTransport | null = null;
    let port: PortInfo | null = identity ? null : { path: rest };
    const bridge = (): Bridge | undefined => (port?.vid && port.pid ? bridgeFor(parseInt(port.vid, 16), parseInt(port.pid, 16)) : undefined);
    const sequences = () => {
      const b = bridge();
      return {
        hard: (resetOpt !== 'none' ? resetOpt : undefined) ?? bench.hard ?? SEQUENCES[b?.hard ?? 'hard'],
        download: downloadOpt ?? bench.download ?? (b?.download ?? ['unix-tight', 'classic', 'unix-tight-slow', 'classic-slow']).map((n) => SEQUENCES[n]),
      };
    };
    const where = () => (identity ? `${port ? `${port.path} (${describeIdentity(identity)})` : describeIdentity(identity)}` : rest);
    return {
      url, kind: 'serial', mode,
      // reset=none: hello only; otherwise the agent's reset command for an agent board.
      reset: resetOpt === 'none' ? 'hello' : 'agent',
      get description() { return `serial ${where()} at ${baudRate} baud`; },
      get resolvedPort() { return identity ? port?.path : undefined; },
      resetSequences: sequences,
      // serialport loads only when a serial target is used.
      transport: async () => {
        if (identity) port = await resolvePort(url, identity);
        opened = new (await import('../../transport/serial.ts')).SerialTransport({ path: port!.path, baudRate });
        return opened;
      },
      close: async () => {},
      // A firmware board gets the hard reset (the bridge's, the config's or the target's), unless
      // reset=none; a pseudo-terminal (an emulated or forwarded board) has no modem lines to pulse.
      ...(mode === 'firmware' && resetOpt !== 'none' ? {
        async resetDevice() {
          if (!opened?.isOpen || !opened.capabilities.lineControl) return false;
          const { hard } = sequences();
          // The ROM speaks at 115200: at another rate its boot line cannot be read, only the pulse given.
          if (baudRate === 115_200) await hardReset(opened, hard, { bootTimeoutMs: bench.bootTimeoutMs ?? 2_000 });
          else await runResetSequence(opened, hard);
          return true;
        },
      } : {}),
    };
  },
};


