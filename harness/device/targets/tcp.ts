/** `tcp:host:port[?reset=none&mode=firmware]`: a UART over TCP (QEMU `-serial tcp`, ser2net raw, hilt emulate --tcp). */
import { isIP } from 'node:net';
import { UsageError } from '../../errors.ts';
import { TcpTransport } from '../../transport/tcp.ts';
import type { TargetKind } from './target.ts';
import { isHostName, modeOption, resetOption, targetOptions } from './options.ts';

export const tcpTarget: TargetKind = {
  kind: 'tcp',
  summary: 'tcp:HOST:PORT[?reset=none&mode=firmware]  a UART over TCP (QEMU -serial tcp, ser2net)',
  parse(rest, query, url) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(rest);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new UsageError(`target ${url}: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:5555`);
    const bracketed = m[1]!.startsWith('[');
    const host = m[1]!.replace(/^\[|\]$/g, '');
    if (bracketed && isIP(host) !== 6) throw new UsageError(`target ${url}: ${JSON.stringify(host)} is not an IPv6 address: brackets are for IPv6 only, e.g. tcp:[::1]:5555`);
    if (!bracketed && !isHostName(host)) {
      throw new UsageError(`target ${url}: ${JSON.stringify(host)} is not a host name or IP address: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:5555`);
    }
    const o = targetOptions(url, query, ['reset', 'mode']);
    return {
      url, kind: 'tcp', reset: resetOption(url, o.get('reset')), mode: modeOption(url, o.get('mode')),
      description: `tcp ${host}:${port}`,
      transport: async () => new TcpTransport({ host, port }),
      close: async () => {},
    };
  },
};
