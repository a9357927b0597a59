/**
 * pyserial (Debian's python3-serial), the RFC 2217 implementation esptool uses, as an independent
 * peer: its client against hilt's server, and its server side (PortManager over a `loop://` port)
 * against hilt's client. Run with Debian's own python3, where the package installs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export const pyserialMissing: string | null =
  spawnSync(PYTHON, ['-c', 'import serial.rfc2217'], { stdio: 'ignore' }).status === 0
    ? null
    : 'pyserial is not installed: the RFC 2217 interoperability tests need it (apt-get install python3-serial)';

/** Runs a Python program to completion (bounded), with its output. */
export function runPython(program: string, args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-c', program, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/**
 * pyserial's client, as esptool drives it: open at a rate (which also raises DTR and RTS and
 * purges), the classic reset's line steps, a baud change, an input purge, and bytes through.
 * Prints what it read back.
 */
export const PYSERIAL_CLIENT = `
import sys, serial
url = sys.argv[1]
s = serial.serial_for_url(url, baudrate=921600, timeout=3)
s.dtr = False
s.rts = True
s.dtr = True
s.rts = False
s.dtr = False
s.baudrate = 460800
s.reset_input_buffer()
s.write(b'A\\xffB\\n')
print(repr(s.read(4)), flush=True)
s.close()
`;

/**
 * pyserial's server half over its loop:// port (what is written comes back), one client. Prints
 * the port it listens on, then, whenever a command changed them, the lines and the rate.
 */
const PYSERIAL_SERVER = `
import socket, threading, serial, serial.rfc2217 as rfc
port = serial.serial_for_url('loop://', baudrate=115200, timeout=0.05)
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
print('port', srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lock = threading.Lock()
class Connection:
    def write(self, data):
        with lock:
            conn.sendall(data)
net = Connection()
manager = rfc.PortManager(port, net)
def to_client():
    while True:
        data = port.read(4096)
        if data:
            net.write(b''.join(manager.escape(data)))
threading.Thread(target=to_client, daemon=True).start()
last = None
while True:
    data = conn.recv(4096)
    if not data:
        break
    port.write(b''.join(manager.filter(data)))
    state = (port.dtr, port.rts, port.baudrate)
    if state != last:
        print('state', int(state[0]), int(state[1]), state[2], flush=True)
        last = state
`;

export interface PyserialServer {
  port: number;
  /** Every "dtr rts baud" state the server passed through, in order. */
  states: string[];
  /** Resolves once the server's last state is `state` (bounded). */
  until(state: string, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts pyserial's server half; resolves once it listens (bounded). */
export function startPyserialServer(): Promise<PyserialServer> {
  const child: ChildProcess = spawn(PYTHON, ['-c', PYSERIAL_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const states: string[] = [];
  const wakes = new Set<() => void>();
  const until = (state: string, ms = 5_000) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (states.at(-1) !== state) return;
      clearTimeout(timer);
      wakes.delete(check);
      resolve();
    };
    const timer = setTimeout(() => { wakes.delete(check); reject(new Error(`pyserial's server never reached "${state}": ${states.join(' | ')}`)); }, ms);
    wakes.add(check);
    check();
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => { void stop(); reject(new Error(`pyserial's server did not listen within 5 s: ${stderr}`)); }, 5_000);
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`pyserial's server exited: ${stderr}`)); });
    child.stdout!.on('data', (c: Buffer) => {
      buffer += c.toString();
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const port = /^port (\d+)$/.exec(line);
        if (port) {
          clearTimeout(timer);
          resolve({ port: Number(port[1]), states, until, stop });
        }
        const state = /^state (.*)$/.exec(line);
        if (state) {
          states.push(state[1]!);
          for (const wake of [...wakes]) wake();
        }
      }
    });
  });
}
