/**
 * How bytes reach a device: the one interface every transport (serial, TCP, child process,
 * in-memory) implements, and the one conformance suite (test/transport) holds them to.
 *
 * Semantics:
 * - `open()` resolves once bytes can flow, or rejects with a TransportError whose message names
 *   the port/address/command and what to do. It is bounded by the transport's open timeout.
 * - `write()` resolves when the bytes are handed to the OS (drained); it rejects with a
 *   TransportError when the transport is not open or has failed.
 * - 'data' events carry raw Buffers in arrival order; no line splitting here.
 * - 'close' is emitted exactly once, after open succeeded, when the transport ends for any
 *   reason: `expected` is true when close() asked for it, false when the peer went away (cable
 *   pulled, process exited, socket reset) — `reason` says which in words.
 * - `close()` is idempotent and bounded; it resolves once everything the transport owns (fds,
 *   sockets, child processes) is released.
 */
import type { EventEmitter } from 'node:events';
import { HiltError, ExitCode, brandAcrossCopies } from '../errors.ts';

export type TransportKind = 'serial' | 'rfc2217' | 'tcp' | 'process' | 'memory';

/** The modem lines a USB bridge drives; true = asserted (the pin at 0 V), as esptool counts them. */
export interface ModemLines {
  dtr: boolean;
  rts: boolean;
}

export interface TransportCapabilities {
  /** DTR/RTS can be set (a USB bridge, an RFC 2217 server); a pseudo-terminal or TCP cannot. */
  lineControl: boolean;
  /** The line rate can be changed while open (serial, RFC 2217). */
  baudRate: boolean;
}

export interface CloseInfo {
  expected: boolean;
  reason: string;
}

export interface Transport extends EventEmitter {
  readonly kind: TransportKind;
  /** Human words for where the bytes go: "serial /dev/ttyUSB0 at 115200 baud". */
  readonly description: string;
  /** What this transport can do besides bytes. */
  readonly capabilities: TransportCapabilities;
  readonly isOpen: boolean;
  /**
   * Sets both modem lines in one step (both are always given). Present on transports that may
   * have lines; rejects with a TransportError naming the port when this one has none after all.
   */
  setSignals?(lines: ModemLines): Promise<void>;
  /** Changes the line rate of an open transport (esptool's CHANGE_BAUDRATE is followed by this). */
  setBaudRate?(baudRate: number): Promise<void>;
  open(): Promise<void>;
  write(data: string | Buffer): Promise<void>;
  close(): Promise<void>;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (info: CloseInfo) => void): this;
  /** Only a transport that finds its board again after a re-enumeration (a serial target by identity): where. */
  on(event: 'reopened', listener: (path: string) => void): this;
  once(event: 'data', listener: (chunk: Buffer) => void): this;
  once(event: 'close', listener: (info: CloseInfo) => void): this;
}

/** A device could not be reached or went away: infrastructure, exit status 3. */
export class TransportError extends HiltError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.unreachable, options);
    this.name = 'TransportError';
  }
}
brandAcrossCopies(TransportError, 'TransportError');
