/**
 * Test doubles of a Web Serial port (what esptool-js drives) over the emulator's own ends: a
 * UartPeer in this process (the chip, with its modem lines), or a Node byte stream (serialport
 * on a pseudo-terminal, which has no lines). Only what esptool-js 0.7.0's Transport uses.
 */
import type { Duplex } from 'node:stream';
import type { UartPeer } from '../../emulator/uart.ts';

interface Signals { dataTerminalReady?: boolean; requestToSend?: boolean; break?: boolean }

abstract class StreamPort {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;

  protected deliver(bytes: Buffer): void {
    try {
      this.controller?.enqueue(new Uint8Array(bytes));
    } catch { /* closed under us */ }
  }

  protected abstract send(bytes: Buffer): void;

  async open(_options: { baudRate: number }): Promise<void> {
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => { this.controller = c; },
      cancel: () => { this.controller = null; },
    });
    this.writable = new WritableStream<Uint8Array>({ write: (chunk) => this.send(Buffer.from(chunk)) });
  }

  async close(): Promise<void> {
    try { this.controller?.close(); } catch { /* already closed */ }
    this.controller = null;
    this.readable = null;
    this.writable = null;
  }

  getInfo(): { usbVendorId?: number; usbProductId?: number } {
    // A CP2102 bridge, as on a DevKitC.
    return { usbVendorId: 0x10c4, usbProductId: 0xea60 };
  }
}

/** A Web Serial port on a UartPeer: setSignals drives its DTR/RTS, setBaudRate its line rate. */
export class PeerSerialPort extends StreamPort {
  private lines = { dtr: false, rts: false };
  /** Every setSignals call as the peer got it, in order. */
  readonly signalLog: Array<{ dtr: boolean; rts: boolean }> = [];

  constructor(private readonly peer: UartPeer) {
    super();
    peer.onOutput((bytes) => this.deliver(bytes));
  }

  protected send(bytes: Buffer): void {
    this.peer.input(bytes);
  }

  override async open(options: { baudRate: number }): Promise<void> {
    await super.open(options);
    this.peer.setBaudRate(options.baudRate);
  }

  async setSignals(s: Signals): Promise<void> {
    if (s.dataTerminalReady !== undefined) this.lines.dtr = s.dataTerminalReady;
    if (s.requestToSend !== undefined) this.lines.rts = s.requestToSend;
    this.signalLog.push({ ...this.lines });
    this.peer.setLines({ ...this.lines });
  }

  async setBaudRate(baud: number): Promise<void> {
    this.peer.setBaudRate(baud);
  }
}

/** A Web Serial port on a byte stream with no modem lines (a pseudo-terminal). */
export class StreamSerialPort extends StreamPort {
  constructor(private readonly stream: Duplex) {
    super();
    stream.on('data', (bytes: Buffer) => this.deliver(bytes));
  }

  protected send(bytes: Buffer): void {
    this.stream.write(bytes);
  }

  async setSignals(_s: Signals): Promise<void> {
    throw new Error('a pseudo-terminal has no modem lines');
  }
}
