/**
 * A hilt Transport straight onto an emulated chip's UART (emulator/uart.ts's UartPeer), with the
 * two modem lines and the line rate a USB bridge has: for in-process flashing tests without a
 * server in between. The RFC 2217 and pty paths test the same chip through real servers.
 */
import { BaseTransport } from '../../harness/transport/base.ts';
import type { ModemLines } from '../../harness/transport/transport.ts';

export interface UartPeerLike {
  input(bytes: Buffer): void;
  onOutput(cb: (bytes: Buffer) => void): void;
  setLines(l: ModemLines): void;
  setBaudRate(b: number): void;
}

export class PeerTransport extends BaseTransport {
  readonly kind = 'memory' as const;
  readonly description = 'emulated chip (in process)';
  /** Every setSignals, in order. */
  readonly lineLog: ModemLines[] = [];
  private attached = false;
  private listening = false;

  constructor(private readonly peer: UartPeerLike) {
    super(1_000);
    this.capabilities.lineControl = true;
    this.capabilities.baudRate = true;
  }

  async setSignals(lines: ModemLines): Promise<void> {
    this.lineLog.push({ ...lines });
    this.peer.setLines({ ...lines });
  }

  async setBaudRate(baudRate: number): Promise<void> {
    this.peer.setBaudRate(baudRate);
  }

  protected async doOpen(): Promise<void> {
    // A UART peer takes one receiver for good: attach once, pass bytes on only while open.
    this.listening = true;
    if (!this.attached) {
      this.attached = true;
      this.peer.onOutput((bytes) => { if (this.listening) this.received(bytes); });
    }
  }

  protected async doWrite(data: Buffer): Promise<void> {
    this.peer.input(data);
  }

  protected async doClose(): Promise<void> {
    this.listening = false;
  }

  protected openTimeoutMessage(): string {
    return 'emulated chip did not open';
  }
}
