/**
 * Faults of the qemu: target, through `hilt run` as a user runs it: no QEMU, a QEMU without the
 * ESP32 machine (Debian's own), a QEMU that dies mid-run, Ctrl-C; and a QMP peer that is not QEMU.
 * Whole runs use the stand-in of test/qemu/helpers.ts: real upstream QEMU (`-M none`) behind
 * HILT_QEMU, given the esp32 command line hilt builds.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { QmpClient } from '../../harness/qemu/qmp.ts';
import { writeIdfBuildFixture } from '../esp/idf-build.ts';
import { HILT_BIN, REPO, latestResults, rejection, tempDir } from '../helpers.ts';
import { needQemu, writeQemuStandIn } from '../qemu/helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

interface Child {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [HILT_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : -1))));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Resolves once `file` exists in `dir` (the stand-in writes it by rename), bounded. */
function appears(dir: string, file: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const timer = setTimeout(() => done(new Error(`${file} never appeared in ${dir}`)), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve();
    };
    watcher.on('change', () => { if (existsSync(join(dir, file))) done(); });
    if (existsSync(join(dir, file))) done();
  });
}

/**
 * True once a client is connected to QEMU's 127.0.0.1:port (an ESTABLISHED row of /proc/net/tcp
 * with that local port), asked again until `timeoutMs`: nothing tells another process of it.
 */
async function hasClient(port: number, timeoutMs = 15_000): Promise<boolean> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    if (rows.some((r) => r[1] === local && r[3] === '01')) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('faults: qemu', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  const children: ChildProcess[] = [];

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-faults-qemu-'));
  });
  afterEach(async function () {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const pidFile = join(dir, 'qemu.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    await remove();
  });

  /** A build, and `hilt run` on it with HILT_QEMU (or PATH) as given. */
  async function runOn(env: NodeJS.ProcessEnv, query = ''): Promise<Child> {
    const build = await writeIdfBuildFixture(join(dir, 'build'));
    // (a short hello bound: the stand-in never answers, and the runs below end on it or earlier)
    const c = start(['run', HAPPY, '--target', `qemu:${build.dir}${query}`], dir, env);
    children.push(c.child);
    return c;
  }

  it('HILT_QEMU naming no program: exit 2, one line naming HILT_QEMU and Espressif\'s releases', async function () {
    const c = await runOn({ ...process.env, HILT_QEMU: join(dir, 'no-qemu') });
    expect(await c.exited).to.equal(2);
    const lines = c.stderr().trim().split('\n');
    expect(lines, c.stderr()).to.have.length(1);
    expect(lines[0]).to.match(/HILT_QEMU=".*no-qemu" is not an executable file: point it at Espressif's qemu-system-xtensa; Espressif publishes it at https:\/\/github\.com\/espressif\/qemu\/releases/);
  });

  it('no qemu-system-xtensa on PATH: exit 2, one line saying where Espressif publishes it', async function () {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: join(dir, 'empty') };
    delete env.HILT_QEMU;
    const c = await runOn(env);
    expect(await c.exited).to.equal(2);
    const lines = c.stderr().trim().split('\n');
    expect(lines, c.stderr()).to.have.length(1);
    expect(lines[0]).to.match(/qemu-system-xtensa not found on PATH and HILT_QEMU is not set: .*github\.com\/espressif\/qemu\/releases/);
  });

  it('Debian\'s upstream QEMU (no esp32 machine): exit 2, one line saying to use Espressif\'s build', async function () {
    const upstream = needQemu(this);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(upstream, '..')}:${process.env.PATH ?? ''}` };
    delete env.HILT_QEMU;
    const c = await runOn(env);
    expect(await c.exited).to.equal(2);
    const lines = c.stderr().trim().split('\n');
    expect(lines, c.stderr()).to.have.length(1);
    expect(lines[0]).to.match(/has no esp32 machine \(upstream QEMU, such as Debian's qemu-system-misc, has none\): use Espressif's build through HILT_QEMU/);
  });

  it('QEMU that exits while starting: exit 3, the report has QEMU\'s exit and its last stderr line', async function () {
    const failing = join(dir, 'failing-qemu');
    await writeFile(failing, '#!/bin/sh\necho "qemu-system-xtensa: -drive file=flash.bin,if=mtd,format=raw: Could not open flash.bin: Permission denied" >&2\nexit 1\n', { mode: 0o755 });
    const c = await runOn({ ...process.env, HILT_QEMU: failing });
    expect(await c.exited, c.stderr()).to.equal(3);
    expect(c.stderr()).to.not.match(/\n\s+at /); // no stack trace
    const r = await latestResults(dir);
    expect(r.run.infrastructureError).to.match(/exited with code 1: qemu-system-xtensa: -drive file=flash\.bin,if=mtd,format=raw: Could not open flash\.bin: Permission denied$/);
  });

  it('QEMU killed mid-run: exit 3, the report says QEMU was killed, and the lab certificates carry 10.0.2.2', async function () {
    const standIn = await writeQemuStandIn(dir, needQemu(this));
    const c = await runOn({ ...process.env, HILT_QEMU: standIn });
    await appears(dir, 'qemu.pid');
    const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8'));
    const args = readFileSync(join(dir, 'qemu.args'), 'utf8').split('\n');
    const serialPort = Number(/:(\d+),server/.exec(args[args.indexOf('-serial') + 1]!)![1]);
    // The runner is on QEMU's serial port, waiting for the device's hello.
    expect(await hasClient(serialPort), 'hilt never connected to the serial port').to.equal(true);
    process.kill(pid, 'SIGKILL');
    expect(await c.exited, c.stderr()).to.equal(3);
    const r = await latestResults(dir);
    expect(r.run.infrastructureError).to.match(new RegExp(`QEMU \\(pid ${pid}\\) was killed by SIGKILL`));
    // QEMU's guest reaches the lab at 10.0.2.2: the server certificates name it.
    const servers = readdirSync(join(dir, 'certs', 'server')).filter((f) => f.endsWith('.crt'));
    const valid = new X509Certificate(readFileSync(join(dir, 'certs', 'server', servers.find((f) => /valid/.test(f)) ?? servers[0]!)));
    expect(valid.subjectAltName).to.contain('IP Address:10.0.2.2');
  });

  it('Ctrl-C: exit 130, and QEMU is stopped with the run', async function () {
    const standIn = await writeQemuStandIn(dir, needQemu(this));
    const c = await runOn({ ...process.env, HILT_QEMU: standIn });
    await appears(dir, 'qemu.pid');
    const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8'));
    const args = readFileSync(join(dir, 'qemu.args'), 'utf8').split('\n');
    const serialPort = Number(/:(\d+),server/.exec(args[args.indexOf('-serial') + 1]!)![1]);
    expect(await hasClient(serialPort), 'hilt never connected to the serial port').to.equal(true);
    c.child.kill('SIGINT');
    expect(await c.exited, c.stderr()).to.equal(130);
    expect(alive(pid), 'QEMU outlived the run').to.equal(false);
  });

  describe('a QMP peer that is not QEMU', function () {
    let server: net.Server;
    let port: number;
    let behave: (socket: net.Socket) => void = () => {};

    beforeEach(async function () {
      server = net.createServer((s) => behave(s));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as net.AddressInfo).port;
    });
    afterEach(async function () {
      server.close();
    });

    it('silent: no greeting within the bound is a QmpError', async function () {
      behave = () => {};
      const err = await rejection(QmpClient.connect({ host: '127.0.0.1', port, timeoutMs: 300 }));
      expect(err.message).to.equal(`QMP at 127.0.0.1:${port}: no QMP greeting within 300 ms: is this QEMU's -qmp port?`);
    });

    it('not JSON (a serial console on the QMP port): a QmpError quoting the start of it', async function () {
      behave = (s) => s.write('ets Jun  8 2016 00:22:57\r\n');
      const err = await rejection(QmpClient.connect({ host: '127.0.0.1', port, timeoutMs: 2_000 }));
      expect(err.message).to.match(/sent a line that is not a JSON object \(ets Jun {2}8 2016 00:22:57\): is this QEMU's -qmp port\?/);
    });

    it('a line without end: cut at the bound, not buffered for ever', async function () {
      behave = (s) => s.write(Buffer.alloc(64 * 1024, 0x7b));
      const err = await rejection(QmpClient.connect({ host: '127.0.0.1', port, timeoutMs: 2_000, maxLineBytes: 4096 }));
      expect(err.message).to.match(/sent a line over 4096 bytes/);
    });

    it('greets but never answers a command: each command is bounded', async function () {
      behave = (s) => s.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n');
      const err = await rejection(QmpClient.connect({ host: '127.0.0.1', port, timeoutMs: 300 }));
      expect(err.message).to.equal(`QMP at 127.0.0.1:${port}: no reply to qmp_capabilities within 300 ms: QEMU is not answering`);
    });

    it('closes mid-command: the command fails at once, saying so', async function () {
      behave = (s) => {
        s.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n');
        s.once('data', () => s.destroy());
      };
      const err = await rejection(QmpClient.connect({ host: '127.0.0.1', port, timeoutMs: 5_000 }));
      expect(err.message).to.equal(`QMP at 127.0.0.1:${port}: QEMU closed the QMP connection`);
    });
  });
});
