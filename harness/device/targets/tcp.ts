/** `tcp:host:port[?reset=none]`: a UART over TCP (QEMU `-serial tcp`, ser2net raw, hilt emulate --tcp). */
import { UsageError } from '../../errors.ts';
import { TcpTransport } from '../../transport/tcp.ts';
import type { TargetKind } from './target.ts';
import { resetOption, targetOptions } from './options.ts';

export const tcpTarget: TargetKind = {
  kind: 'tcp',
  summary: 'tcp:HOST:PORT[?reset=none]  a UART over TCP (QEMU -serial tcp, ser2net)',
  parse(rest, query, url) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(rest);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new UsageError(`target ${url}: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:5555`);
    const host = m[1]!.replace(/^\[|\]$/g, '');
    const o = targetOptions(url, query, ['reset']);
    return {
      url, kind: 'tcp', reset: resetOption(url, o.get('reset')),
      description: `tcp ${host}:${port}`,
      transport: async () => new TcpTransport({ host, port }),
      close: async () => {},
    };
  },
};
