/** What only TCP does: names, lookups, timeouts, and peers that do not answer a FIN. */
import { expect } from 'chai';
import net, { type AddressInfo } from 'node:net';
import { TcpTransport, TransportError } from '../../harness/transport/index.ts';
import { rejection } from '../helpers.ts';

describe('tcp transport', function () {
  it('writes an IPv6 address in brackets, as a target is written', function () {
    expect(new TcpTransport({ host: '::1', port: 5555 }).description).to.equal('tcp:[::1]:5555');
    expect(new TcpTransport({ host: 'qemu-host', port: 5555 }).description).to.equal('tcp:qemu-host:5555');
  });

  it('says when the host name does not resolve', async function () {
    const err = await rejection(new TcpTransport({ host: 'no-such-board.invalid', port: 5555 }).open());
    expect(err).to.be.instanceOf(TransportError);
    // Without DNS at all the lookup may outlast the open timeout instead; that is said too.
    expect(err.message).to.match(/^tcp:no-such-board\.invalid:5555(: host (not found \(ENOTFOUND\)|name lookup failed \(EAI_AGAIN\))| did not accept a connection within 5000 ms)/);
  });

  it('says so when nothing answers within the open timeout', async function () {
    // A TEST-NET address: packets to it go nowhere, unless this machine's network answers for it
    // (no route, or a sandbox that refuses every outside connection).
    const err = await rejection(new TcpTransport({ host: '192.0.2.1', port: 5555, openTimeoutMs: 300 }).open());
    if (/unreachable|refused/.test(err.message)) {
      console.log(`      (this network answers for 192.0.2.1, so there is no timeout to observe: ${err.message})`);
      this.skip();
    }
    expect(err.message).to.equal('tcp:192.0.2.1:5555 did not accept a connection within 300 ms: check the host and port, and that nothing (a firewall, a stopped VM) swallows the connection');
  });

  it('close() is bounded when the peer never answers our FIN', async function () {
    const held: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (socket) => { held.push(socket); });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    try {
      const transport = new TcpTransport({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
      await transport.open();
      const started = Date.now();
      await transport.close();
      expect(Date.now() - started).to.be.within(900, 2_500);
      expect(transport.isOpen).to.equal(false);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
