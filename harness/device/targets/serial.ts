/**
 * `serial:/dev/ttyUSB0[?baud=115200&reset=hard&download=classic&mode=firmware]`: a board on a
 * serial port (USB bridge, pty); or by identity, for boards that re-enumerate (USB-Serial/JTAG
 * does on every reset) or move between ports: `serial:?serial_number=X`, `serial:?vid=303a&pid=1001`,
 * `serial:?location=1-1.2`. An identity is looked up when the port opens, and again when the
 * board goes away and comes back (serial-identity.ts), with bounded retries; the port found is
 * the target's resolvedPort. A port given by path is looked up too, for its bridge's sequences.
 *
 * reset=none    today's behaviour: no modem line is touched; hello only between scenarios
 * reset=hard    (or hard-usb, or a custom sequence such as R1|W200|R0) the hardware reset a
 *               firmware board gets between scenarios; default: the bridge's own (BRIDGES)
 * download=...  the sequence(s) into download mode (classic, unix-tight, usb-jtag, a custom one)
 * hilt.config.json "bench": {"reset": {"hard": ..., "download": [...]}} does the same for every
 * serial target; an option on the target wins.
 */
import { UsageError } from '../../errors.ts';
import { listPorts, type PortInfo } from '../../transport/ports.ts';
import type { Transport } from '../../transport/transport.ts';
import {
  SEQUENCES, bridgeFor, hardReset, isSequenceName, parseResetSequence, runResetSequence, sequenceFrom, type Bridge, type ResetSequence,
} from '../reset-sequence.ts';
import { IdentitySerialTransport, describeIdentity, identityOf } from './serial-identity.ts';
import type { BenchSettings, TargetKind } from './target.ts';
import { intOption, modeOption, targetOptions } from './options.ts';

/** reset=: none, a named hard-reset sequence, or a custom one; a download sequence is refused here. */
export function resetChoice(url: string, value: string | undefined): ResetSequence | 'none' | undefined {
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

export function downloadChoice(url: string, value: string | undefined): ResetSequence[] | undefined {
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
    let opened: Transport | null = null;
    let byIdentity: IdentitySerialTransport | null = null;
    let pathPort: PortInfo = { path: rest };
    const portNow = (): PortInfo | null => (identity ? byIdentity?.port ?? null : pathPort);
    const bridge = (): Bridge | undefined => {
      const port = portNow();
      return port?.vid && port.pid ? bridgeFor(parseInt(port.vid, 16), parseInt(port.pid, 16)) : undefined;
    };
    const sequences = () => {
      const b = bridge();
      return {
        hard: (resetOpt !== 'none' ? resetOpt : undefined) ?? bench.hard ?? SEQUENCES[b?.hard ?? 'hard'],
        download: downloadOpt ?? bench.download ?? (b?.download ?? ['unix-tight', 'classic', 'unix-tight-slow', 'classic-slow']).map((n) => SEQUENCES[n]),
      };
    };
    const where = () => {
      const port = portNow();
      return identity ? (port ? `${port.path} (${describeIdentity(identity)})` : describeIdentity(identity)) : rest;
    };
    return {
      url, kind: 'serial', mode,
      // reset=none: hello only; otherwise the agent's reset command for an agent board.
      reset: resetOpt === 'none' ? 'hello' : 'agent',
      get description() { return `serial ${where()} at ${baudRate} baud`; },
      get resolvedPort() { return identity ? byIdentity?.port?.path : undefined; },
      resetSequences: sequences,
      // serialport loads only when a serial target is used.
      transport: async () => {
        // By identity: found at open, and found again if the board goes away and comes back.
        if (identity) return opened = byIdentity = new IdentitySerialTransport({ url, identity, baudRate });
        // By path: which bridge it is, if the port list knows the path (for its sequences).
        pathPort = (await listPorts()).ports.find((p) => p.path === rest) ?? { path: rest };
        return opened = new (await import('../../transport/serial.ts')).SerialTransport({ path: rest, baudRate });
      },
      close: async () => {},
      // A firmware board gets the hard reset (the bridge's, the config's or the target's), unless
      // reset=none; a pseudo-terminal (an emulated or forwarded board) has no modem lines to pulse.
      ...(mode === 'firmware' && resetOpt !== 'none' ? {
        async resetDevice() {
          if (!opened?.isOpen || !opened.capabilities.lineControl) return false;
          const { hard } = sequences();
          // The ROM speaks at 115200: at another rate its boot line cannot be read, only the pulse
          // given. A bridge that re-enumerates on reset (USB-Serial/JTAG) loses the boot line
          // while its port is gone: there too the pulse is all (the port is found again).
          const reenumerates = bridge()?.download.includes('usb-jtag') ?? false;
          if (baudRate === 115_200 && !reenumerates) await hardReset(opened, hard, { bootTimeoutMs: bench.bootTimeoutMs ?? 2_000 });
          else await runResetSequence(opened, hard);
          return true;
        },
      } : {}),
    };
  },
};

export { resolvePort, type PortIdentity } from './serial-identity.ts';
