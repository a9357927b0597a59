/**
 * A hilt Transport dressed as a Web Serial port, the only kind of port esptool-js talks to:
 * `readable`/`writable` WHATWG streams, `open`/`close`, `setSignals` (partial, as Web Serial
 * takes it), `getInfo()` and the optional in-place `setBaudRate` esptool-js prefers to a reopen.
 *
 * The transport is not ours: open() opens it only when it is closed, and close() releases the
 * streams but leaves the transport open, so the console can be read on it after flashing.
 */
import type { ModemLines, Transport } from '../transport/transport.ts';
import { TransportError } from '../transport/transport.ts';

/** What Web Serial's SerialPort.getInfo() returns; esptool-js tells USB-Serial/JTAG by it. */
export interface SerialPortInfo {
  usbVendorId?: number;
  usbProductId?: number;
}

export interface WebSerialSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

/** Received bytes nobody reads are kept up to this many; beyond, they are dropped and counted. */
const READ_QUEUE_BYTES = 1024 * 1024;
/** How much of the received bytes is kept for error messages (the ROM's boot line). */
const TAIL_BYTES = 4096;

export class TransportSerialPort {
  readable: ReadableStream<Uint8Array> | null = null;
  /** Received bytes dropped because nobody was reading (esptool-js always is while connected). */
  droppedBytes = 0;
  private sink: WritableStream<Uint8Array> | null = null;
  private sinkClosed = false;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private detach: (() => void) | null = null;
  /** Both lines as last set: Web Serial callers set one at a time, the transport takes both. */
  private lines: ModemLines = { dtr: false, rts: false };
  private tail = Buffer.alloc(0);
  /** Every setSignals call that reached the transport, in order (for tests and traces). */
  readonly signalLog: ModemLines[] = [];

  constructor(
    readonly transport: Transport,
    private readonly info: SerialPortInfo = {},
  ) {}

  getInfo(): SerialPortInfo {
    return { ...this.info };
  }

  /** The last bytes received (up to 4 KB), for saying what the board printed when it did not answer. */
  receivedTail(): Buffer {
    return this.tail;
  }

  get writable(): WritableStream<Uint8Array> | null {
    if (!this.readable) return null;
    // esptool-js's flushOutput() closes the writable; Web Serial would then give a new one.
    if (!this.sink || this.sinkClosed) {
      this.sinkClosed = false;
      this.sink = new WritableStream<Uint8Array>({
        write: (chunk) => this.transport.write(Buffer.from(chunk)),
        close: () => { this.sinkClosed = true; },
      });
    }
    return this.sink;
  }

  async open(options: { baudRate?: number } = {}): Promise<void> {
    if (this.readable) throw new TransportError(`${this.transport.description} is already open for flashing`);
    if (!this.transport.isOpen) await this.transport.open();
    if (options.baudRate !== undefined) await this.setBaudRate(options.baudRate);
    const onData = (chunk: Buffer) => {
      this.tail = Buffer.concat([this.tail, chunk]).subarray(-TAIL_BYTES);
      const c = this.controller;
      if (!c) return;
      if ((c.desiredSize ?? 0) <= 0) {
        this.droppedBytes += chunk.length;
        return;
      }
      c.enqueue(new Uint8Array(chunk));
    };
    const onClose = (info: { reason: string }) => {
      this.controller?.error(new TransportError(info.reason));
      this.controller = null;
    };
    this.transport.on('data', onData);
    this.transport.once('close', onClose);
    this.detach = () => {
      this.transport.off('data', onData);
      this.transport.off('close', onClose);
    };
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => { this.controller = controller; },
      cancel: () => { this.controller = null; },
    }, new ByteLengthQueuingStrategy({ highWaterMark: READ_QUEUE_BYTES }));
  }

  /** Ends the streams (a pending read returns done); the transport stays open. */
  async close(): Promise<void> {
    this.detach?.();
    this.detach = null;
    try {
      this.controller?.close();
    } catch {
      // already errored by the transport's close: nothing left to end
    }
    this.controller = null;
    this.readable = null;
    this.sink = null;
  }

  /**
   * Web Serial changes only the lines it is given; hilt's transports set both in one step, so
   * the other keeps its last value. A transport without modem lines (a pty, TCP) refuses: a
   * reset that silently did nothing would look like a board that never answers.
   */
  async setSignals(signals: WebSerialSignals): Promise<void> {
    if (signals.dataTerminalReady === undefined && signals.requestToSend === undefined) return;
    const { transport } = this;
    if (!transport.capabilities.lineControl || !transport.setSignals) {
      throw new TransportError(`${transport.description} has no DTR/RTS lines: the board cannot be reset through it; put it in download mode by hand (hold BOOT while pressing EN)`);
    }
    this.lines = { dtr: signals.dataTerminalReady ?? this.lines.dtr, rts: signals.requestToSend ?? this.lines.rts };
    this.signalLog.push({ ...this.lines });
    await transport.setSignals({ ...this.lines });
  }

  /** A transport with no line rate of its own (pty, TCP) carries bytes at any rate: nothing to do. */
  async setBaudRate(baudRate: number): Promise<void> {
    const { transport } = this;
    if (transport.capabilities.baudRate && transport.setBaudRate) await transport.setBaudRate(baudRate);
  }
}
