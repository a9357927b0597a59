/**
 * `rfc2217://host:port[?baud=115200&ign_set_control=1&reset=none|hard|SEQ&download=classic&mode=firmware]`:
 * a board on a remote serial port (ser2net with `telnet(rfc2217)`, esptool's RFC 2217 server, a
 * labgrid exporter, `hilt emulate --rfc2217`). `ign_set_control` is pyserial's option of that
 * name, and like pyserial's it may be given bare (`?ign_set_control`).
 *
 * reset= and download= are the serial target's (board control's sequences); without them the
 * bench's (hilt.config.json "bench": {"reset": ...}), else esptool's choice for a remote port:
 * its hard reset, and the classic sequence (a TIOCMSET for both lines at once does not cross the
 * network). A remote port has no USB identity, so no bridge picks the sequences.
 */
import { isIP } from 'node:net';
import { UsageError } from '../../errors.ts';
import { Rfc2217Transport } from '../../transport/rfc2217.ts';
import { SEQUENCES, hardReset, runResetSequence } from '../reset-sequence.ts';
import type { BenchSettings, TargetKind } from './target.ts';
import { boolOption, intOption, isHostName, modeOption, targetOptions } from './options.ts';
import { downloadChoice, resetChoice } from './serial.ts';

const EXAMPLE = 'rfc2217://192.168.1.20:4000';

export const rfc2217Target: TargetKind = {
  kind: 'rfc2217',
  summary: `${EXAMPLE}[?baud=115200&ign_set_control=1&reset=none|hard|SEQ&download=classic&mode=firmware]  a remote serial port (ser2net, esptool's RFC 2217 server)`,
  parse(rest, query, url, context = {}) {
    const m = /^\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(rest);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new UsageError(`target ${url}: write rfc2217://HOST:PORT, e.g. ${EXAMPLE}`);
    const bracketed = m[1]!.startsWith('[');
    const host = m[1]!.replace(/^\[|\]$/g, '');
    if (bracketed && isIP(host) !== 6) throw new UsageError(`target ${url}: ${JSON.stringify(host)} is not an IPv6 address: brackets are for IPv6 only, e.g. rfc2217://[::1]:4000`);
    if (!bracketed && !isHostName(host)) {
      throw new UsageError(`target ${url}: ${JSON.stringify(host)} is not a host name or IP address: write rfc2217://HOST:PORT, e.g. ${EXAMPLE}`);
    }
    const o = targetOptions(url, query, ['baud', 'ign_set_control', 'reset', 'download', 'mode']);
    const baudRate = intOption(url, 'baud', o.get('baud'), 115_200, 300, 5_000_000);
    const bare = o.get('ign_set_control') === '' ? '1' : o.get('ign_set_control');
    const ignoreSetControl = boolOption(url, 'ign_set_control', bare, false, 'do not wait for answers to SET-CONTROL, as pyserial');
    const mode = modeOption(url, o.get('mode'));
    const bench: BenchSettings = context.bench ?? {};
    const resetOpt = resetChoice(url, o.get('reset'));
    const downloadOpt = downloadChoice(url, o.get('download'));
    const sequences = () => ({
      hard: (resetOpt !== 'none' ? resetOpt : undefined) ?? bench.hard ?? SEQUENCES.hard,
      download: downloadOpt ?? bench.download ?? [SEQUENCES.classic, SEQUENCES['classic-slow']],
    });
    const where = bracketed ? `[${host}]:${port}` : `${host}:${port}`;
    let opened: Rfc2217Transport | null = null;
    return {
      url, kind: 'rfc2217', mode,
      // reset=none: hello only; otherwise the agent's reset command for an agent board.
      reset: resetOpt === 'none' ? 'hello' : 'agent',
      description: `rfc2217 ${where} at ${baudRate} baud${ignoreSetControl ? ' (SET-CONTROL answers ignored)' : ''}`,
      resetSequences: sequences,
      transport: async () => (opened = new Rfc2217Transport({ host, port, baudRate, ignoreSetControl })),
      close: async () => {},
      // A firmware board gets its hard reset through the server's lines, unless reset=none.
      ...(mode === 'firmware' && resetOpt !== 'none' ? {
        async resetDevice() {
          if (!opened?.isOpen) return false;
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
