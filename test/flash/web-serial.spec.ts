import { expect } from 'chai';
import { Duplex, PassThrough } from 'node:stream';
import { once } from 'node:events';
import { SerialPort } from 'serialport';
import { Transport as EsptoolTransport } from 'esptool-js';
import { TransportSerialPort } from '../../harness/flash/web-serial.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import { SerialTransport } from '../../harness/transport/serial.ts';
import { TransportError, type ModemLines } from '../../harness/transport/transport.ts';
import { hasSocat, ptyPair } from '../transport/peers.ts';
import { rejection } from '../helpers.ts';

/** A memory transport that has modem lines, as a USB bridge does; it records every setSignals. */
class LinedMemoryTransport extends MemoryTransport {
  readonly calls: ModemLines[] = [];
  constructor(duplex: Duplex) {
    super(duplex, 'lined stream');
    this.capabilities.lineControl = true;
  }
  async setSignals(lines: ModemLines): Promise<void> {
    this.calls.push({ ...lines });
  }
}

/** A peer: what the host writes comes out of `fromHost`; what is written to `toHost` reaches the host. */
function peer() {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const stream = Duplex.from({ readable: toHost, writable: fromHost });
  stream.on('error', () => undefined);
  return { stream, toHost, fromHost };
}

async function readSome(readable: ReadableStream<Uint8Array>, bytes: number): Promise<Buffer> {
  const reader = readable.getReader();
  const parts: Buffer[] = [];
  let n = 0;
  try {
    while (n < bytes) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(Buffer.from(value));
      n += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(parts);
}

describe('flash/web-serial: a hilt transport as a Web Serial port', () => {
  it('carries bytes both ways through the WHATWG streams and leaves the transport open on close', async () => {
    const p = peer();
    const transport = new MemoryTransport(p.stream);
    const port = new TransportSerialPort(transport, { usbVendorId: 0x10c4, usbProductId: 0xea60 });
    await port.open({ baudRate: 115200 });
    expect(transport.isOpen).to.equal(true);
    const writer = port.writable!.getWriter();
    const arrived = once(p.fromHost, 'data');
    await writer.write(new Uint8Array([0xc0, 1, 2, 0xc0]));
    writer.releaseLock();
    expect([...(await arrived)[0] as Buffer]).to.deep.equal([0xc0, 1, 2, 0xc0]);
    p.toHost.write(Buffer.from('hello'));
    expect((await readSome(port.readable!, 5)).toString()).to.equal('hello');
    expect(port.getInfo()).to.deep.equal({ usbVendorId: 0x10c4, usbProductId: 0xea60 });
    const reader = port.readable!.getReader();
    const pending = reader.read();
    await port.close();
    expect((await pending).done).to.equal(true);
    expect(port.readable).to.equal(null);
    expect(transport.isOpen).to.equal(true);
    await transport.close();
  });

  it('turns Web Serial\'s one-line-at-a-time setSignals into both lines per transport call', async () => {
    const p = peer();
    const transport = new LinedMemoryTransport(p.stream);
    const port = new TransportSerialPort(transport);
    await port.open();
    await port.setSignals({ requestToSend: true });
    await port.setSignals({ dataTerminalReady: true });
    await port.setSignals({ requestToSend: false });
    await port.setSignals({ dataTerminalReady: false, requestToSend: false });
    await port.setSignals({ break: false });
    expect(transport.calls).to.deep.equal([
      { dtr: false, rts: true }, { dtr: true, rts: true }, { dtr: true, rts: false }, { dtr: false, rts: false },
    ]);
    await port.close();
    await transport.close();
  });

  it('gives esptool-js\'s own Transport a working port: SLIP out, SLIP frames back, esptool\'s classic reset through setSignals', async () => {
    const p = peer();
    const transport = new LinedMemoryTransport(p.stream);
    const port = new TransportSerialPort(transport);
    const esp = new EsptoolTransport(port as unknown as ConstructorParameters<typeof EsptoolTransport>[0]);
    await esp.connect(115200);
    void esp.readLoop();
    const sent = once(p.fromHost, 'data');
    await esp.write(new Uint8Array([0x00, 0x08, 0xc0, 0xdb]));
    expect([...(await sent)[0] as Buffer]).to.deep.equal([0xc0, 0x00, 0x08, 0xdb, 0xdc, 0xdb, 0xdd, 0xc0]);
    p.toHost.write(Buffer.from([0xc0, 0x01, 0x08, 0xdb, 0xdc, 0xc0]));
    expect([...await esp.read(2000)]).to.deep.equal([0x01, 0x08, 0xc0]);
    await esp.setSignals(false, true);
    await esp.setSignals(true, false);
    await esp.setSignals(false, false);
    expect(transport.calls).to.deep.equal([{ dtr: false, rts: true }, { dtr: true, rts: false }, { dtr: false, rts: false }]);
    await esp.disconnect();
    expect(transport.isOpen).to.equal(true);
    await transport.close();
  });

  it('keeps at most 1 MiB of unread bytes and counts what it drops (a board flooding while nobody reads)', async () => {
    const p = peer();
    const transport = new MemoryTransport(p.stream);
    const port = new TransportSerialPort(transport);
    await port.open();
    const total = 1536 * 1024;
    let arrived = 0;
    const all = new Promise<void>((resolve) => transport.on('data', (c: Buffer) => { arrived += c.length; if (arrived >= total) resolve(); }));
    for (let i = 0; i < 24; i++) p.toHost.write(Buffer.alloc(64 * 1024, i));
    await all;
    expect(port.droppedBytes).to.be.at.least(total - 1024 * 1024);
    expect(port.droppedBytes).to.be.below(total);
    // What was kept is the start of the flood, in order.
    const first = await readSome(port.readable!, 1);
    expect(first[0]).to.equal(0);
    await port.close();
    await transport.close();
  });

  it('ends a pending read with a TransportError when the board goes away', async () => {
    const p = peer();
    const transport = new MemoryTransport(p.stream);
    const port = new TransportSerialPort(transport);
    await port.open();
    const reader = port.readable!.getReader();
    const pending = reader.read();
    p.toHost.end();
    const err = await rejection(pending);
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.match(/ended: the peer hung up/);
  });

  (hasSocat ? describe : describe.skip)('over a real pseudo-terminal (socat)', () => {
    it('carries bytes, and refuses modem lines without touching the pty', async () => {
      const pair = await ptyPair();
      const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
      await new Promise<void>((resolve, reject) => far.open((err) => (err ? reject(err) : resolve())));
      far.on('error', () => undefined);
      const transport = new SerialTransport({ path: pair.a });
      const port = new TransportSerialPort(transport);
      try {
        await port.open({ baudRate: 115200 });
        const writer = port.writable!.getWriter();
        const got = once(far, 'data');
        await writer.write(new Uint8Array([0xc0, 0x42, 0xc0]));
        writer.releaseLock();
        expect([...(await got)[0] as Buffer]).to.deep.equal([0xc0, 0x42, 0xc0]);
        far.write(Buffer.from('waiting for download\r\n'));
        expect((await readSome(port.readable!, 22)).toString()).to.equal('waiting for download\r\n');
        const err = await rejection(port.setSignals({ requestToSend: true }));
        expect(err).to.be.instanceOf(TransportError);
        expect(err.message).to.match(/has no DTR\/RTS lines: the board cannot be reset through it; put it in download mode by hand \(hold BOOT while pressing EN\)$/);
        expect(port.signalLog).to.deep.equal([]);
        expect(port.receivedTail().toString()).to.equal('waiting for download\r\n');
      } finally {
        await port.close();
        await transport.close();
        await new Promise<void>((resolve) => far.close(() => resolve()));
        await pair.release();
      }
    });
  });
});
