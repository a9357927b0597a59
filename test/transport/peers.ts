/**
 * The far ends the transport conformance suite talks to: for each kind of transport an echo peer
 * (bytes come back unchanged) that the test can make vanish, an emulated ESP32, and an endpoint
 * that does not exist.
 */
import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { openStreamBoard, servePty, serveRfc2217, serveTcp, type UartPeer } from '../../emulator/index.ts';
import {
  MemoryTransport, ProcessTransport, Rfc2217Transport, SerialTransport, TcpTransport, type Transport, type TransportKind,
} from '../../harness/transport/index.ts';
import { IdentitySerialTransport } from '../../harness/device/targets/serial-identity.ts';
import { HILT_BIN } from '../helpers.ts';
import { ser2netMissing, startSer2net } from './ser2net.ts';
import { writeUsbSysfs } from './usb-fixture.ts';

export const hasSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;

/** A transport with a live peer at its far end. */
export interface Rig {
  transport: Transport;
  /** Makes the far end vanish as it would in the field (cable, crash, reset socket). */
  vanish(): Promise<void>;
  /** Releases the peer (the transport is the test's to close). */
  release(): Promise<void>;
}

export interface Kind {
  kind: TransportKind;
  /** Which peer, when one kind is tested against several (rfc2217: ser2net, hilt's server). */
  label?: string;
  /** Why this kind cannot be tested here, or null. */
  unavailable: string | null;
  /** What description() must mention. */
  names: (rig: Rig) => RegExp;
  echo(): Promise<Rig>;
  board(): Promise<Rig>;
  /** A transport whose endpoint does not exist, and what its open() error must say. */
  missing(): Promise<{ transport: Transport; says: RegExp }>;
}

// --- memory ---------------------------------------------------------------------------------

function memoryEcho(): Rig {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  fromHost.pipe(toHost);
  const stream = Duplex.from({ readable: toHost, writable: fromHost });
  // The test owns this stream: its end-of-test destruction is no failure.
  stream.on('error', () => undefined);
  const transport = new MemoryTransport(stream, 'echo stream');
  return {
    transport,
    vanish: async () => {
      fromHost.unpipe(toHost);
      toHost.end();
    },
    release: async () => { fromHost.destroy(); toHost.destroy(); },
  };
}

// --- process --------------------------------------------------------------------------------

/** A child that echoes its stdin; the shortest honest stand-in for a UART bridge. */
const ECHO_SCRIPT = 'process.stdin.pipe(process.stdout)';

function processEcho(): Rig {
  const transport = new ProcessTransport({ command: process.execPath, args: ['-e', ECHO_SCRIPT] });
  return {
    transport,
    vanish: async () => { process.kill(transport.pid!, 'SIGKILL'); },
    release: async () => undefined,
  };
}

// --- tcp --------------------------------------------------------------------------------------

async function tcpEcho(): Promise<Rig> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    transport: new TcpTransport({ host: '127.0.0.1', port }),
    vanish: async () => { for (const s of sockets) s.destroy(); },
    release: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function closedTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// --- serial: a real pseudo-terminal pair --------------------------------------------------------

type Socat = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * socat between a new pseudo-terminal, linked at `<dir>/a` in a new temporary folder, and `far`
 * (given that folder); resolves once socat says it is bridging them. release() ends socat, then
 * runs `cleanup`, then removes the folder; a socat that does not start is released the same way.
 */
async function socatPty(far: (dir: string) => string, cleanup: () => Promise<void> = async () => undefined): Promise<{ path: string; dir: string; socat: Socat; release(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hilt-pty-'));
  const path = join(dir, 'a');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${path}`, far(dir)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => socat.once('exit', () => resolve()));
  const release = async () => {
    if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGTERM');
    await exited;
    await cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`socat did not start within 5 s: ${log}`)), 5_000);
      socat.once('exit', (code) => { clearTimeout(timer); reject(new Error(`socat exited (${code}): ${log}`)); });
      socat.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/starting data transfer loop/.test(log)) { clearTimeout(timer); resolve(); }
      });
    });
  } catch (err) {
    await release();
    throw err;
  }
  return { path, dir, socat, release };
}

/** `socat pty pty`: two linked pseudo-terminals; resolves once socat says it is bridging them. */
export async function ptyPair(): Promise<{ a: string; b: string; socat: ChildProcess; release(): Promise<void> }> {
  const pty = await socatPty((dir) => `pty,raw,echo=0,link=${join(dir, 'b')}`);
  return { a: pty.path, b: join(pty.dir, 'b'), socat: pty.socat, release: pty.release };
}

/**
 * A real pseudo-terminal whose far side is socat's own stdin and stdout: the test writes what the
 * board says into stdin and reads what the board was sent from stdout, or leaves stdout unread,
 * as a board that takes no input (socat then stops reading the pty, whose queue fills).
 */
export async function ptyToStdio(): Promise<{ path: string; socat: Socat; release(): Promise<void> }> {
  const { path, socat, release } = await socatPty(() => 'stdio');
  return { path, socat, release };
}

/** The serial rig: hilt's SerialTransport on a real pseudo-terminal whose far side is a TCP echo. */
async function serialEcho(): Promise<Rig> {
  const echo = await ptyEcho();
  return {
    transport: new SerialTransport({ path: echo.path }),
    vanish: async () => echo.vanish(),
    release: () => echo.release(),
  };
}

// --- rfc2217: ser2net in front of a pty, and the emulator's own server --------------------

/**
 * A pseudo-terminal whose other side is a TCP echo (socat between the pty and a Node server that
 * sends back whatever it is sent). Large bursts through such rigs used to stall now and then
 * under load; the cause was serialport's binding, which stopped watching for input while a write
 * waited for room (harness/transport/unix-binding.ts).
 */
async function ptyEcho(): Promise<{ path: string; vanish(): void; release(): Promise<void> }> {
  return ptyToTcp((socket) => socket.pipe(socket));
}

/**
 * A real pseudo-terminal whose far side is a TCP socket of this process: socat links the pty to
 * 127.0.0.1, and `serve` gets the socket.
 */
export async function ptyToTcp(serve: (socket: net.Socket) => void): Promise<{ path: string; far: Promise<net.Socket>; vanish(): void; release(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connected!: (socket: net.Socket) => void;
  const far = new Promise<net.Socket>((resolve) => { connected = resolve; });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    serve(socket);
    connected(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as AddressInfo;
  const { path, socat, release } = await socatPty(() => `tcp:127.0.0.1:${port}`, async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  // The pty's master side goes at once: the transport's port hangs up, as a pulled cable's does.
  return { path, far, vanish: () => { socat.kill('SIGKILL'); }, release };
}

/** ser2net serving a pty whose far side echoes. */
async function ser2netEcho(): Promise<Rig> {
  const echo = await ptyEcho();
  try {
    const server = await startSer2net(echo.path);
    return {
      transport: new Rfc2217Transport({ host: '127.0.0.1', port: server.port }),
      vanish: () => server.kill(),
      release: async () => {
        await server.stop();
        await echo.release();
      },
    };
  } catch (err) {
    await echo.release();
    throw err;
  }
}

export type LoopbackPeer = UartPeer & {
  lines: Array<{ dtr: boolean; rts: boolean }>;
  bauds: number[];
  purges: number;
  /** Resolves once the lines last set satisfy `test` (bounded). */
  untilLines(test: (l: { dtr: boolean; rts: boolean }) => boolean, ms?: number): Promise<void>;
};

/** A UartPeer that sends back what it is given (a UART with TX wired to RX), recording lines and rates. */
export function loopbackPeer(): LoopbackPeer {
  let out: (bytes: Buffer) => void = () => undefined;
  const changed = new Set<() => void>();
  const peer: LoopbackPeer = {
    lines: [],
    bauds: [],
    purges: 0,
    input: (bytes) => out(bytes),
    onOutput: (cb) => { out = cb; },
    setLines: (l) => {
      peer.lines.push({ ...l });
      for (const wake of changed) wake();
    },
    setBaudRate: (b) => { peer.bauds.push(b); },
    purge: () => { peer.purges++; },
    untilLines: (test, ms = 5_000) => new Promise((resolve, reject) => {
      const check = () => {
        const last = peer.lines.at(-1);
        if (!last || !test(last)) return;
        clearTimeout(timer);
        changed.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        changed.delete(check);
        reject(new Error(`the peer's lines did not change as expected within ${ms} ms: ${JSON.stringify(peer.lines)}`));
      }, ms);
      changed.add(check);
      check();
    }),
  };
  return peer;
}

/** The emulated board's stream (today's Board) as a UartPeer, for the server to serve. */
function streamBoardPeer(stream: Duplex): UartPeer {
  return {
    input: (bytes) => { stream.write(bytes); },
    onOutput: (cb) => { stream.on('data', cb); },
    setLines: () => undefined,
    setBaudRate: () => undefined,
  };
}

async function hiltRfc2217Echo(): Promise<Rig> {
  const served = await serveRfc2217({ peer: loopbackPeer() });
  return {
    transport: new Rfc2217Transport({ host: '127.0.0.1', port: served.port }),
    vanish: () => served.close(),
    release: () => served.close(),
  };
}

const rfc2217Names = (rig: Rig) => new RegExp(`^rfc2217://127\\.0\\.0\\.1:${(rig.transport as Rfc2217Transport).port} at 115200 baud$`);

async function rfc2217Missing(): Promise<{ transport: Transport; says: RegExp }> {
  const port = await closedTcpPort();
  return {
    transport: new Rfc2217Transport({ host: '127.0.0.1', port }),
    says: new RegExp(`^rfc2217://127\\.0\\.0\\.1:${port} refused the connection: is the board \\(QEMU, ser2net\\) running\\?$`),
  };
}

// --- the table --------------------------------------------------------------------------------

export const KINDS: Kind[] = [
  {
    kind: 'memory',
    unavailable: null,
    names: () => /echo stream/,
    echo: async () => memoryEcho(),
    board: async () => {
      const served = openStreamBoard({ index: 11 });
      return {
        transport: new MemoryTransport(served.stream, `emulated ESP32 ${served.board.id}`),
        vanish: () => served.close(),
        release: () => served.close(),
      };
    },
    missing: async () => {
      const gone = new PassThrough();
      gone.destroy();
      return { transport: new MemoryTransport(gone, 'a finished stream'), says: /a finished stream has already ended/ };
    },
  },
  {
    kind: 'process',
    unavailable: null,
    names: () => new RegExp(`^process ${escape(process.execPath)} -e `),
    echo: async () => processEcho(),
    board: async () => {
      const transport = new ProcessTransport({ command: process.execPath, args: [HILT_BIN, 'emulate'], openTimeoutMs: 10_000 });
      return { transport, vanish: async () => { process.kill(transport.pid!, 'SIGKILL'); }, release: async () => undefined };
    },
    missing: async () => ({
      transport: new ProcessTransport({ command: 'hilt-no-such-command', args: ['emulate'] }),
      says: /^command hilt-no-such-command not found/,
    }),
  },
  {
    kind: 'tcp',
    unavailable: null,
    names: (rig) => new RegExp(`^tcp:127\\.0\\.0\\.1:${(rig.transport as TcpTransport).port}$`),
    echo: tcpEcho,
    board: async () => {
      const served = await serveTcp({ index: 12 });
      return {
        transport: new TcpTransport({ host: '127.0.0.1', port: served.port }),
        vanish: () => served.close(),
        release: () => served.close(),
      };
    },
    missing: async () => {
      const port = await closedTcpPort();
      return {
        transport: new TcpTransport({ host: '127.0.0.1', port }),
        says: new RegExp(`^tcp:127\\.0\\.0\\.1:${port} refused the connection: is the board \\(QEMU, ser2net\\) running\\?$`),
      };
    },
  },
  {
    kind: 'serial',
    unavailable: hasSocat ? null : 'socat is not installed: the serial tests need a pseudo-terminal pair (apt-get install socat)',
    names: (rig) => new RegExp(`^serial ${escape((rig.transport as SerialTransport).path)} at 115200 baud$`),
    echo: serialEcho,
    board: async () => {
      const served = await servePty({ index: 13 });
      return {
        transport: new SerialTransport({ path: served.path }),
        vanish: () => served.close(),
        release: () => served.close(),
      };
    },
    missing: async () => ({
      transport: new SerialTransport({ path: '/dev/ttyUSB-hilt-missing' }),
      says: /^serial port \/dev\/ttyUSB-hilt-missing does not exist; serial ports found: (none|\/dev\/\S+(, \/dev\/\S+)*) \((listed by udev|read from \/sys\/class\/tty .*|looked for .*)\)$/,
    }),
  },
  {
    kind: 'serial',
    label: 'serial by identity (a fixture sysfs tree over a pty)',
    unavailable: hasSocat ? null : 'socat is not installed: the serial tests need a pseudo-terminal pair (apt-get install socat)',
    // The identity always; the port too, once it was found.
    names: () => /^serial (\S+\/ttyUSB0 \(serial_number=0001\)|serial_number=0001) at 115200 baud$/,
    echo: async () => byIdentity(await serialEcho()),
    board: async () => {
      const served = await servePty({ index: 14 });
      return byIdentity({ transport: new SerialTransport({ path: served.path }), vanish: () => served.close(), release: () => served.close() });
    },
    missing: async () => ({
      // This machine's own sysfs (read directly, as without udev): no board has this serial number.
      transport: new IdentitySerialTransport({
        url: 'serial:?serial_number=hilt-missing', identity: { serialNumber: 'hilt-missing' }, baudRate: 115_200, tries: 2, intervalMs: 10,
        list: { sysfsRoot: '/sys' },
      }),
      says: /^target serial:\?serial_number=hilt-missing: no serial port has serial_number=hilt-missing \(looked 2 times over 10 ms\); ports found: .* \(read from \/sys\/class\/tty .*\): check the board is plugged in \(npx hilt ports\)$/,
    }),
  },
  {
    kind: 'rfc2217',
    label: 'rfc2217 (ser2net)',
    unavailable: ser2netMissing ?? (hasSocat ? null : 'socat is not installed: ser2net needs a pseudo-terminal pair to serve (apt-get install socat)'),
    names: rfc2217Names,
    echo: ser2netEcho,
    // ser2net between hilt and the emulated board, which sits behind a pty as a USB bridge would.
    board: async () => {
      const served = await servePty({ index: 14 });
      const server = await startSer2net(served.path);
      return {
        transport: new Rfc2217Transport({ host: '127.0.0.1', port: server.port }),
        vanish: () => server.kill(),
        release: async () => { await server.stop(); await served.close(); },
      };
    },
    missing: rfc2217Missing,
  },
  {
    kind: 'rfc2217',
    label: 'rfc2217 (hilt emulator server)',
    unavailable: null,
    names: rfc2217Names,
    echo: hiltRfc2217Echo,
    board: async () => {
      const board = openStreamBoard({ index: 15 });
      const served = await serveRfc2217({ peer: streamBoardPeer(board.stream) });
      return {
        transport: new Rfc2217Transport({ host: '127.0.0.1', port: served.port }),
        vanish: () => served.close(),
        release: async () => { await served.close(); await board.close(); },
      };
    },
    missing: rfc2217Missing,
  },
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The same peer, reached by identity: a fixture sysfs tree (a stand-in for a CP2102) whose
 * ttyUSB0 is a link to the pty the plain serial rig opens.
 */
async function byIdentity(rig: Rig): Promise<Rig> {
  const path = (rig.transport as SerialTransport).path;
  const dir = await mkdtemp(join(tmpdir(), 'hilt-usb-'));
  await writeUsbSysfs(join(dir, 'sys'), [{ tty: 'ttyUSB0', vid: '10c4', pid: 'ea60', serial: '0001', location: '1-1.2' }]);
  await mkdir(join(dir, 'dev'));
  await symlink(path, join(dir, 'dev', 'ttyUSB0'));
  const transport = new IdentitySerialTransport({
    url: 'serial:?serial_number=0001', identity: { serialNumber: '0001' }, baudRate: 115_200, tries: 3, intervalMs: 20,
    list: { sysfsRoot: join(dir, 'sys'), devRoot: join(dir, 'dev') },
  });
  return {
    transport,
    vanish: rig.vanish,
    release: async () => {
      await rig.release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
