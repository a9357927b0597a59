/**
 * Where a board's UART goes: an in-process stream, this process's stdio, a TCP port (like QEMU's
 * `-serial tcp` or ser2net), or a pseudo-terminal that serialport opens like a USB bridge.
 * Each board boots when it is served; output with nobody attached is lost, as on a real UART.
 *
 * Stream and stdio boards are the agent alone (lines in, lines out). TCP and pseudo-terminal
 * boards are a whole chip (chip/esp32.ts): ROM, serial loader and flash, so a flashing tool
 * works on them too; neither carries modem lines, so `boot: 'download'` starts such a chip with
 * BOOT held instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, readlink, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { LineSplitter, type Line } from '../harness/protocol/index.ts';
import { Board, type BoardOptions } from './board.ts';
import { Esp32Chip } from './chip/esp32.ts';
import { serveRfc2217 } from './rfc2217.ts';

export type BoardSettings = Omit<BoardOptions, 'write'>;

/** A board that is a whole chip: how it boots at power-on, and whether its UART keeps time. */
export interface ChipSettings extends BoardSettings {
  /** `download`: GPIO0 held low at power-on (BOOT held), the ROM waits for a flashing tool. */
  boot?: 'flash' | 'download';
  /** Pace the UART at its baud rate (the flash throughput bench). */
  pace?: boolean;
}

/** A chip for these settings (powered off: serve it, then power it on). */
export function chipFor(settings: ChipSettings): Esp32Chip {
  const { boot, pace, ...board } = settings;
  return new Esp32Chip({ ...board, bootDownload: boot === 'download', pace });
}

/** Feeds a byte stream to a board as lines (host lines are at most 1 KiB; anything longer is cut). */
function attachInput(board: Board, input: NodeJS.ReadableStream): LineSplitter {
  const splitter = new LineSplitter({ maxLineBytes: 4096 });
  splitter.on('data', (line: Line) => board.input(line));
  input.pipe(splitter);
  return splitter;
}

export interface StreamBoard {
  board: Board;
  /** The host's end: read the UART, write commands. */
  stream: Duplex;
  close(): Promise<void>;
}

/** A board in this process, reached through a Duplex stream. */
export function openStreamBoard(settings: BoardSettings = {}): StreamBoard {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const board = new Board({ ...settings, write: (text) => { if (!toHost.destroyed) toHost.write(text); } });
  attachInput(board, fromHost);
  board.boot();
  return {
    board,
    stream: Duplex.from({ readable: toHost, writable: fromHost }),
    close: async () => {
      await board.shutdown();
      toHost.end();
      fromHost.end();
    },
  };
}

export interface ChipBoard {
  board: Board;
  /** The chip: setLines for DTR/RTS, setBaudRate, its trace and flash. */
  chip: Esp32Chip;
  /** The host's end of the UART: read what the chip sends, write what it receives. */
  stream: Duplex;
  close(): Promise<void>;
}

/** A whole chip in this process, its UART a Duplex stream and its modem lines on `chip`. */
export function openChipBoard(settings: ChipSettings = {}): ChipBoard {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const chip = chipFor(settings);
  chip.onOutput((bytes) => { if (!toHost.destroyed) toHost.write(bytes); });
  fromHost.on('data', (bytes: Buffer) => chip.input(bytes));
  chip.powerOn();
  return {
    board: chip.board,
    chip,
    stream: Duplex.from({ readable: toHost, writable: fromHost }),
    close: async () => {
      await chip.close();
      toHost.end();
      fromHost.end();
    },
  };
}

/** This process is the board: commands on stdin, UART on stdout. Resolves when stdin ends. */
export async function serveStdio(settings: BoardSettings = {}): Promise<void> {
  const board = new Board({ ...settings, write: (text) => process.stdout.write(text) });
  attachInput(board, process.stdin);
  board.boot();
  await new Promise<void>((resolve) => process.stdin.once('end', resolve));
  await board.shutdown();
}

export interface TcpBoard {
  board: Board;
  chip: Esp32Chip;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** A board on a TCP port: one client at a time, as a serial port takes one opener. */
export async function serveTcp(settings: ChipSettings & { port?: number; host?: string } = {}): Promise<TcpBoard> {
  const { port = 0, host = '127.0.0.1', ...chipSettings } = settings;
  let client: net.Socket | null = null;
  const chip = chipFor(chipSettings);
  chip.onOutput((bytes) => { if (client && !client.destroyed) client.write(bytes); });
  const server = net.createServer((socket) => {
    if (client) {
      // Busy, like a locked serial port: say so on the socket and hang up. A client that resets
      // at once must not take the emulator down with an unhandled socket error, and what it sent
      // is read and dropped, or its FIN would wait behind those bytes and the socket never close.
      socket.on('error', () => {});
      socket.resume();
      socket.end('hilt emulator: this board already has a client\n');
      return;
    }
    client = socket;
    socket.setNoDelay(true);
    socket.on('data', (bytes: Buffer) => { if (client === socket) chip.input(bytes); });
    socket.on('error', () => { /* a vanished client is a closed one */ });
    socket.once('close', () => {
      if (client === socket) client = null;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => resolve());
  });
  chip.powerOn();
  return {
    board: chip.board,
    chip,
    host,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      client?.destroy();
      await chip.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A whole chip behind an RFC 2217 server: the client sets its baud rate and DTR/RTS. */
export async function serveRfc2217Board(settings: ChipSettings & { port?: number; host?: string } = {}): Promise<TcpBoard> {
  const { port = 0, host = '127.0.0.1', ...chipSettings } = settings;
  const chip = chipFor(chipSettings);
  const server = await serveRfc2217({ host, port, peer: chip });
  chip.powerOn();
  return {
    board: chip.board,
    chip,
    host: server.host,
    port: server.port,
    close: async () => {
      await server.close();
      await chip.close();
    },
  };
}

export class SocatMissingError extends Error {
  constructor() {
    super('socat is not installed: a pseudo-terminal board needs it (apt-get install socat), or use --tcp PORT');
    this.name = 'SocatMissingError';
  }
}

export interface PtyBoard {
  board: Board;
  chip: Esp32Chip;
  /** Stable path to open with serialport (a symlink to the current /dev/pts/N). */
  path: string;
  close(): Promise<void>;
}

/** The pty's path is taken (another emulator's link, or a file): never ours to replace. */
export class PtyPathTakenError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists (another emulator's pseudo-terminal, or a stale link): remove it if nothing uses it, or choose another path`);
    this.name = 'PtyPathTakenError';
  }
}

/**
 * A board behind a pseudo-terminal. socat owns the pty and bridges it to the board's TCP port;
 * when the host closes the pty socat ends, and a new socat puts the same path back for the
 * next open.
 *
 * The default path carries this process's id: socat replaces whatever link is at its path and
 * removes it when it exits, so two emulators with one path would take and then delete each
 * other's link. A path that exists already is refused, and the link is removed at close only
 * while it still points at this board's pty.
 */
export async function servePty(settings: ChipSettings & { path?: string } = {}): Promise<PtyBoard> {
  const { path: wanted, ...boardSettings } = settings;
  const tcp = await serveTcp(boardSettings);
  const path = wanted ?? join(tmpdir(), `hilt-tty-${process.pid}-${tcp.board.id}`);
  if (await lstat(path).then(() => true, () => false)) {
    await tcp.close();
    throw new PtyPathTakenError(path);
  }
  let socat: ChildProcess | null = null;
  /** The /dev/pts/N the link points at while ours (socat says it on start). */
  let pty: string | null = null;
  let closing = false;
  let restarts = 0;

  const start = () => new Promise<void>((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', `PTY,link=${path},raw,echo=0`, `TCP:127.0.0.1:${tcp.port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    socat = child;
    let log = '';
    let ready = false;
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new SocatMissingError() : err));
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      // socat -d -d reports each side as it opens it; once the TCP side is up the bridge works.
      if (!ready && /PTY is .*[\s\S]*(starting data transfer loop|successfully connected)/.test(log)) {
        ready = true;
        pty = /PTY is (\S+)/.exec(log)?.[1] ?? null;
        resolve();
      }
    });
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`socat exited (${code}) before the pty was ready: ${log.trim().split('\n').pop() ?? ''}`));
      if (closing || !ready) return;
      // The host closed the pty; bring the path back for the next open (bounded).
      if (++restarts <= 1000) start().catch(() => { /* reported on the next open */ });
    });
  });

  try {
    await start();
  } catch (err) {
    await tcp.close();
    throw err;
  }
  return {
    board: tcp.board,
    chip: tcp.chip,
    path,
    close: async () => {
      closing = true;
      const child = socat as ChildProcess | null;
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exited;
        clearTimeout(kill);
      }
      await tcp.close();
      // socat removes its link as it exits; one left behind (socat killed) goes only if it is ours.
      if (pty !== null && (await readlink(path).catch(() => null)) === pty) await rm(path, { force: true });
    },
  };
}
