/**
 * serialport's Unix binding (bindings-cpp 13), with its reads and writes done here. Two of its
 * behaviours lose a board:
 *
 * - A 0-byte read is retried at once, for ever (serialport/bindings-cpp#162). On Linux that is
 *   exactly what a hung-up tty returns: a USB bridge unplugged, a pseudo-terminal whose other end
 *   (socat) died. The port spins a CPU and never reports the disconnect. Here end of file fails
 *   the read; serialport turns any read failure that is not a cancel into `close` with
 *   err.disconnected, as for any other unplug.
 * - A read and a write that both wait share one uv_poll handle, and the binding's Poller starts
 *   it with only the event asked for last (poller.cpp: `uv_poll_start(handle, events, ...)` with
 *   the new events, not the union it keeps). A write that waits for room stops the read waiting
 *   for data, and the other way round: a board's output is not read while a large write to it is
 *   blocked, and a write waiting for room is never woken once a read has waited after it. Here
 *   both directions wait through one Readiness that always watches for every event someone waits
 *   for (test/transport/serial.spec.ts, "full duplex").
 */
import { read, write } from 'node:fs';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';

const readAsync = promisify(read);
const writeAsync = promisify(write);

/** bindings-cpp's poll flags (its EVENTS). */
const READABLE = 0b01;
const WRITABLE = 0b10;

type Direction = 'readable' | 'writable';

/** What the Unix port bindings (Linux, macOS) expose publicly and this module needs. */
interface UnixPort {
  readonly isOpen: boolean;
  fd: number | null;
  /** The write in progress: the binding's drain() waits for it. */
  writeOperation: Promise<void> | null;
  readonly poller: {
    poll(events: number): void;
    on(event: Direction, listener: (err: Error | null) => void): unknown;
  };
}

function isUnixPort(port: object): port is UnixPort {
  return 'fd' in port && 'poller' in port && 'writeOperation' in port;
}

/** The error serialport treats as "the port was closed on purpose", not as a disconnect. */
const canceled = () => Object.assign(new Error('Port is not open'), { canceled: true });

const retryable = (err: unknown) => ['EAGAIN', 'EWOULDBLOCK', 'EINTR'].includes((err as NodeJS.ErrnoException).code ?? '');

/**
 * Who waits for which event on the port's one poll handle. The handle watches exactly the union
 * of what is waited for, set again after every event (the binding re-arms it with a stale set
 * before it calls back) and every new wait. An error from the poller (or its cancel on close)
 * ends every wait with that error.
 */
class Readiness {
  private readonly waiting: Record<Direction, Array<(err: Error | null) => void>> = { readable: [], writable: [] };

  constructor(private readonly port: UnixPort) {
    port.poller.on('readable', (err) => this.settle('readable', err));
    port.poller.on('writable', (err) => this.settle('writable', err));
  }

  wait(direction: Direction): Promise<void> {
    // Closed while the read or write was under way: the close's cancel has gone out already.
    if (!this.port.isOpen) return Promise.reject(canceled());
    return new Promise((resolve, reject) => {
      this.waiting[direction].push((err) => (err ? reject(err) : resolve()));
      this.arm();
    });
  }

  private arm(): void {
    if (!this.port.isOpen) return;
    this.port.poller.poll((this.waiting.readable.length ? READABLE : 0) | (this.waiting.writable.length ? WRITABLE : 0));
  }

  private settle(direction: Direction, err: Error | null): void {
    const waiters = this.waiting[direction].splice(0);
    if (!err) this.arm();
    for (const done of waiters) done(err);
  }
}

/** A read of what is there, waiting for data if there is none; end of file is the end. */
async function readSome(port: UnixPort, ready: Readiness, buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
  for (;;) {
    if (!port.isOpen || port.fd === null) throw canceled();
    let bytesRead: number;
    try {
      ({ bytesRead } = await readAsync(port.fd, buffer, offset, length, null));
    } catch (err) {
      if (!retryable(err)) throw err;
      await ready.wait('readable');
      continue;
    }
    if (bytesRead === 0) throw new Error('hung up: read returned end of file');
    return { buffer, bytesRead };
  }
}

/** All of `buffer`, waiting for room whenever the tty's output queue is full. */
async function writeAll(port: UnixPort, ready: Readiness, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    if (!port.isOpen || port.fd === null) throw canceled();
    try {
      offset += (await writeAsync(port.fd, buffer, offset, buffer.length - offset)).bytesWritten;
    } catch (err) {
      if (!retryable(err)) throw err;
      await ready.wait('writable');
    }
  }
}

type Binding = typeof SerialPort.binding;

/** The platform binding, with reads and writes done as above (Windows ports are left as they are). */
export function unixBinding(base: Binding = SerialPort.binding): Binding {
  const wrapped = {
    list: () => base.list(),
    async open(options: Parameters<Binding['open']>[0]) {
      const port = await base.open(options as never);
      if (!isUnixPort(port)) return port;
      const ready = new Readiness(port);
      const io = {
        read: (buffer: Buffer, offset: number, length: number) => readSome(port, ready, buffer, offset, length),
        write: (buffer: Buffer) => {
          if (!port.isOpen) return Promise.reject(canceled());
          const operation = writeAll(port, ready, buffer).finally(() => {
            if (port.writeOperation === operation) port.writeOperation = null;
          });
          port.writeOperation = operation;
          return operation;
        },
      };
      return new Proxy(port, {
        get(target, prop) {
          if (prop === 'read' || prop === 'write') return io[prop];
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
  return wrapped as unknown as Binding;
}
