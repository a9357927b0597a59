/**
 * serialport 13's Unix read (bindings-cpp unixRead) retries at once, for ever, when read()
 * returns 0 bytes (serialport/bindings-cpp#162). On Linux that is exactly what a hung-up tty
 * returns: a USB bridge unplugged, a pseudo-terminal whose other end (socat) died. The port then
 * spins a CPU and never reports the disconnect; whether serialport sees EIO first instead is a
 * race. This wraps the platform binding so that a 0-byte read fails; serialport turns any read
 * failure that is not a cancel into `close` with err.disconnected, as for any other unplug.
 */
import { read } from 'node:fs';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';

const readAsync = promisify(read);

/** What the Unix port bindings (Linux, macOS) expose publicly and this read needs. */
interface UnixPort {
  readonly isOpen: boolean;
  fd: number | null;
  readonly poller: { once(event: 'readable', callback: (err: Error | null) => void): unknown };
}

function isUnixPort(port: object): port is UnixPort {
  return 'fd' in port && 'poller' in port;
}

const canceled = () => Object.assign(new Error('Port is not open'), { canceled: true });

/** bindings-cpp's read, except that end of file is the end. */
async function readUntilHangup(port: UnixPort, buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
  for (;;) {
    if (!port.isOpen || port.fd === null) throw canceled();
    let bytesRead: number;
    try {
      ({ bytesRead } = await readAsync(port.fd, buffer, offset, length, null));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (!port.isOpen) throw canceled();
      await new Promise<void>((resolve, reject) => port.poller.once('readable', (e) => (e ? reject(e) : resolve())));
      continue;
    }
    if (bytesRead === 0) throw new Error('hung up: read returned end of file');
    return { buffer, bytesRead };
  }
}

type Binding = typeof SerialPort.binding;

/** The platform binding, with reads that end on a hang-up (Windows ports are left as they are). */
export function hangupAwareBinding(base: Binding = SerialPort.binding): Binding {
  const wrapped = {
    list: () => base.list(),
    async open(options: Parameters<Binding['open']>[0]) {
      const port = await base.open(options as never);
      if (!isUnixPort(port)) return port;
      return new Proxy(port, {
        get(target, prop) {
          if (prop === 'read') return (buffer: Buffer, offset: number, length: number) => readUntilHangup(target, buffer, offset, length);
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
  return wrapped as unknown as Binding;
}
