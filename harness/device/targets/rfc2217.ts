/**
 * `rfc2217://host:port[?baud=115200&ign_set_control=1&reset=none&mode=firmware]`: a board on a
 * remote serial port (ser2net with `telnet(rfc2217)`, esptool's RFC 2217 server, a labgrid
 * exporter, `hilt emulate --rfc2217`). `ign_set_control` is pyserial's option of that name, and
 * like pyserial's it may be given bare (`?ign_set_control`).
 */
import { isIP } from 'node:net';
import { UsageError } from '../../errors.ts';
import { Rfc2217Transport } from '../../transport/rfc2217.ts';
import type { TargetKind } from './target.ts';
import { boolOption, intOption, isHostName, modeOption, resetOption, targetOptions } from './options.ts';

const EXAMPLE = 'rfc2217://192.168.1.20:4000';

export const rfc2217Target: TargetKind = {
  kind: 'rfc2217',
  summary: `${EXAMPLE}[?baud=115200&ign_set_control=1&reset=none&mode=firmware]  a remote serial port (ser2net, esptool's RFC 2217 server)`,
  parse(rest, query, url) {
    const m = /^\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(rest);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new UsageError(`target ${url}: write rfc2217://HOST:PORT, e.g. ${EXAMPLE}`);
    const bracketed = m[1]!.startsWith('[');
    const host = m[1]!.replace(/^\[|\]$/g, '');
    if (bracketed && isIP(host) !== 6) throw new UsageError(`target ${url}: ${JSON.stringify(host)} is not an IPv6 address: brackets are for IPv6 only, e.g. rfc2217://[::1]:4000`);
    if (!bracketed && !isHostName(host)) {
      throw new UsageError(`target ${url}: ${JSON.stringify(host)} is not a host name or IP address: write rfc2217://HOST:PORT, e.g. ${EXAMPLE}`);
    }
    const o = targetOptions(url, query, ['baud', 'ign_set_control', 'reset', 'mode']);
    const baudRate = intOption(url, 'baud', o.get('baud'), 115_200, 300, 5_000_000);
    const bare = o.get('ign_set_control') === '' ? '1' : o.get('ign_set_control');
    const ignoreSetControl = boolOption(url, 'ign_set_control', bare, false, 'do not wait for answers to SET-CONTROL, as pyserial');
    const reset = resetOption(url, o.get('reset'));
    const mode = modeOption(url, o.get('mode'));
    const where = bracketed ? `[${host}]:${port}` : `${host}:${port}`;
    let opened: Rfc2217Transport | null = null;
    return {
      url, kind: 'rfc2217', reset, mode,
      description: `rfc2217 ${where} at ${baudRate} baud${ignoreSetControl ? ' (SET-CONTROL answers ignored)' : ''}`,
      transport: async () => (opened = new Rfc2217Transport({ host, port, baudRate, ignoreSetControl })),
      close: async () => {},
      // A firmware board gets esptool's hard reset through the server's lines, unless reset=none.
      ...(mode === 'firmware' && reset === 'agent' ? {
        async resetDevice() {
          if (!opened?.isOpen) return false;
          await opened.setSignals({ dtr: false, rts: true });
          // The pulse's width on the wire (EN's capacitor must discharge), not a wait for an event.
          await new Promise((resolve) => setTimeout(resolve, 100));
          await opened.setSignals({ dtr: false, rts: false });
          return true;
        },
      } : {}),
    };
  },
};
