/** What only the in-process transport does: the stream stays its owner's, with nothing of ours left on it. */
import { expect } from 'chai';
import { Duplex, PassThrough } from 'node:stream';
import { MemoryTransport } from '../../harness/transport/index.ts';

function listeners(stream: Duplex): Record<string, number> {
  return Object.fromEntries(['data', 'end', 'close', 'error'].map((e) => [e, stream.listenerCount(e)]));
}

describe('memory transport', function () {
  it('close() hangs up (ends our side) and takes its listeners off the stream', async function () {
    const toHost = new PassThrough();
    const fromHost = new PassThrough();
    const stream = Duplex.from({ readable: toHost, writable: fromHost });
    const before = listeners(stream);
    const transport = new MemoryTransport(stream);
    expect(transport.description).to.equal('in-process stream');
    await transport.open();
    expect(listeners(stream)).to.not.deep.equal(before);
    const ended = new Promise<void>((resolve) => fromHost.once('end', resolve));
    fromHost.resume();
    await transport.close();
    await ended;
    expect(listeners(stream)).to.deep.equal(before);
    expect(stream.destroyed).to.equal(false);
  });

  it('turns string chunks (a stream with an encoding) into Buffers', async function () {
    const stream = new PassThrough();
    stream.setEncoding('utf8');
    const transport = new MemoryTransport(stream, 'loopback');
    const got: Buffer[] = [];
    transport.on('data', (chunk) => got.push(chunk));
    await transport.open();
    await transport.write('€\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(got.every((c) => Buffer.isBuffer(c))).to.equal(true);
    expect(Buffer.concat(got).toString('utf8')).to.equal('€\n');
    await transport.close();
  });
});
