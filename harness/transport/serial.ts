/**
 * A board on a serial port: a USB bridge (/dev/ttyUSB0, /dev/ttyACM0) or a pseudo-terminal that
 * stands in for one (socat, `hilt emulate --pty`). Opened with serialport. The modem lines (DTR,
 * RTS: reset and bootloader entry) are set only when asked (setSignals, by a reset sequence in
 * harness/device/reset-sequence.ts); a pseudo-terminal has none (set() fails with ENOTTY there),
 * so it is never asked: setSignals refuses before any ioctl.
 */
import { realpath, stat } from 'node:fs/promises';
import { SerialPort, type SerialPortOpenOptions } from 'serialport';
import { unixBinding } from './unix-binding.ts';
import { BaseTransport, oneLine, settleWithin } from './base.ts';
import { findSerialPorts, type FoundPorts } from './ports.ts';
import { TransportError, type ModemLines } from './transport.ts';

export interface SerialOptions {
  path: string;
  baudRate?: number;
  /** How long opening may take (default 5 s). */
  openTimeoutMs?: number;
  /**
   * A serialport binding (its BindingInterface; tests give the mock one, which has another type
   * than the platform's); default: the platform's, through unix-binding.ts.
   */
  binding?: unknown;
}

/** Linux pty slaves (/dev/pts/N) have major numbers 136 to 143 (devices.txt). */
async function isPseudoTerminal(path: string): Promise<boolean> {
  const real = await realpath(path).catch(() => path);
  if (real.startsWith('/dev/pts/')) return true;
  const info = await stat(real).catch(() => null);
  if (!info?.isCharacterDevice()) return false;
  const major = Number((BigInt(info.rdev) >> 8n) & 0xfffn);
  return major >= 136 && major <= 143;
}

/** serialport's messages look like "Error: No such file or directory, cannot open /dev/ttyUSB9". */
function messageOf(err: unknown): string {
  return oneLine((err instanceof Error ? err.message : String(err)).replace(/^(Error:\s*)+/, ''));
}

/** What to tell the user when serialport cannot open `path`; `found` lists ports for a missing one. */
export function explainOpenFailure(path: string, why: string, found?: FoundPorts): string {
  const where = `serial port ${path}`;
  if (/No such file|ENOENT/i.test(why)) {
    const list = found?.paths.length ? found.paths.join(', ') : 'none';
    return `${where} does not exist; serial ports found: ${list}${found ? ` (${found.source})` : ''}`;
  }
  if (/Cannot lock port/i.test(why)) {
    return `${where} is in use by another program (Cannot lock port): close it (idf.py monitor, a serial terminal, another hilt run) and try again`;
  }
  if (/Permission denied|EACCES/i.test(why)) {
    return `no permission to open ${where} (EACCES): add your user to the dialout group (sudo usermod -aG dialout $USER, then log in again)`;
  }
  if (/Inappropriate ioctl|ENOTTY/i.test(why)) {
    return `${path} is not a serial port (${why}): give a serial device such as /dev/ttyUSB0`;
  }
  return `cannot open ${where} (${why}): check that the board is connected`;
}

export class SerialTransport extends BaseTransport {
  readonly kind = 'serial' as const;
  readonly path: string;
  /** The line rate now: setBaudRate changes it (esptool's CHANGE_BAUDRATE, then ours). */
  baudRate: number;
  private readonly binding: unknown;
  private port: SerialPort | null = null;

  constructor(options: SerialOptions) {
    super(options.openTimeoutMs ?? 5_000);
    this.path = options.path;
    this.baudRate = options.baudRate ?? 115_200;
    this.binding = options.binding ?? unixBinding();
    // Known for sure at open(); until then, judged by the name.
    this.capabilities.lineControl = !this.path.startsWith('/dev/pts/');
    this.capabilities.baudRate = true;
  }

  get description(): string {
    return `serial ${this.path} at ${this.baudRate} baud`;
  }

  protected async doOpen(signal: AbortSignal): Promise<void> {
    this.capabilities.lineControl = !(await isPseudoTerminal(this.path));
    // serialport's own options type has no `binding`; its constructor takes one all the same.
    const options = { path: this.path, baudRate: this.baudRate, autoOpen: false, binding: this.binding };
    const port = new SerialPort(options as SerialPortOpenOptions<typeof SerialPort.binding>);
    this.port = port;
    let lastError: string | null = null;
    port.on('error', (err) => { lastError = messageOf(err); });
    port.on('data', (chunk: Buffer) => this.received(chunk));
    // serialport says `close` with a DisconnectedError when reads or writes fail (EIO: the USB
    // bridge vanished, the pty's other end closed); any close we did not ask for is the same news.
    port.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
      const why = err?.disconnected ? messageOf(err) : lastError ?? 'closed';
      this.lost(`serial port ${this.path} went away (${why}): cable unplugged, board re-enumerated on reset, or the pty's other end closed`);
    });
    await new Promise<void>((resolve, reject) => {
      // Given up on while the path was being looked at: the port opens only to be closed below.
      if (signal.aborted) reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      port.open((err) => {
        signal.removeEventListener('abort', onAbort);
        // Given up on already (timeout, close()): release a port that opened late.
        if (signal.aborted) return void (err ? undefined : port.close(() => undefined));
        if (!err) return resolve();
        this.openFailure(err).then(reject, reject);
      });
    });
  }

  private async openFailure(err: Error): Promise<TransportError> {
    const why = messageOf(err);
    const found = /No such file|ENOENT/i.test(why) ? await findSerialPorts() : undefined;
    return new TransportError(explainOpenFailure(this.path, why, found), { cause: err });
  }

  /**
   * Both lines in one set() call (serialport sets every line it is given, and resets the rest:
   * both are always given). A pseudo-terminal is refused here, before the ioctl that would fail.
   */
  async setSignals(lines: ModemLines): Promise<void> {
    if (!this.capabilities.lineControl) {
      throw new TransportError(`${this.path} has no modem lines (a pseudo-terminal): DTR/RTS cannot be set; use reset=none for a board reached this way`);
    }
    const port = this.openPort('set DTR/RTS on');
    await new Promise<void>((resolve, reject) => {
      port.set({ dtr: lines.dtr, rts: lines.rts }, (err) => (err ? reject(new TransportError(`cannot set DTR/RTS on ${this.path}: ${messageOf(err)}`)) : resolve()));
    });
  }

  async setBaudRate(baudRate: number): Promise<void> {
    const port = this.openPort('change the baud rate of');
    await new Promise<void>((resolve, reject) => {
      port.update({ baudRate }, (err) => (err ? reject(new TransportError(`cannot set ${this.path} to ${baudRate} baud: ${messageOf(err)}`)) : resolve()));
    });
    this.baudRate = baudRate;
  }

  private openPort(doing: string): SerialPort {
    const port = this.port;
    if (!this.isOpen || !port?.isOpen) throw new TransportError(`serial port ${this.path} is not open: cannot ${doing} it`);
    return port;
  }

  protected doWrite(data: Buffer): Promise<void> {
    const port = this.port;
    // serialport would queue a write to a closed port until it opens again: never, here.
    if (!port?.isOpen) return Promise.reject(new Error('port is not open'));
    return new Promise((resolve, reject) => {
      port.write(data, (err: Error | null | undefined) => (err ? reject(err) : resolve()));
    });
  }

  /** A real UART takes 10 bit times a byte: a large write at 115200 baud takes seconds. */
  protected override writeBoundMs(bytes: number): number {
    return 10_000 + Math.ceil((bytes * 10 * 1000 * 2) / this.baudRate);
  }

  protected async doClose(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return;
    await settleWithin(2_000, new Promise<void>((resolve) => port.close(() => resolve())));
  }

  protected openTimeoutMessage(ms: number): string {
    return `serial port ${this.path} did not open within ${ms} ms: unplug and replug the board, and check nothing else holds it`;
  }
}
