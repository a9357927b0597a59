/**
 * Every way to reach an emulated board: child-process stdio, TCP, a real pseudo-terminal opened
 * with serialport, and many boards in one process.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SerialPort } from 'serialport';
import { openStreamBoard, PtyPathTakenError, servePty, serveTcp } from '../../emulator/index.ts';
import type { HelloReply } from '../../harness/protocol/index.ts';
import { within } from '../../harness/time.ts';
import { HILT_BIN, rejection, tempDir } from '../helpers.ts';
import { AgentClient } from './agent-client.ts';

const hasSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;

describe('emulated ESP32 transports', function () {
  it('child-process stdio: `hilt emulate` is the board', async function () {
    const child = spawn(process.execPath, [HILT_BIN, 'emulate'], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const agent = new AgentClient({ write: (t: string) => child.stdin.write(t), on: (e: 'data', fn: (c: Buffer) => void) => child.stdout.on(e, fn) });
      await agent.waitEvent('boot', 10_000);
      const hello = await agent.ok<HelloReply>('hello');
      expect(hello.chip.mac).to.equal('24:0a:c4:00:00:01');
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.stdin.end();
      expect(await exited).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('TCP: one client at a time, like a serial port', async function () {
    const served = await serveTcp({ index: 3 });
    try {
      const socket = createConnection({ host: '127.0.0.1', port: served.port });
      await new Promise((resolve) => socket.once('connect', resolve));
      const agent = new AgentClient(socket);
      // The board booted before anyone listened: hello is how a host learns about it.
      expect((await agent.ok<HelloReply>('hello')).chip.mac).to.equal('24:0a:c4:00:00:03');
      const second = createConnection({ host: '127.0.0.1', port: served.port });
      const said = await new Promise<string>((resolve) => {
        let text = '';
        second.on('data', (d: Buffer) => { text += d.toString(); });
        second.on('close', () => resolve(text));
      });
      expect(said).to.match(/already has a client/);
      expect((await agent.ok('heap.stats')).free).to.equal(147_968);
      socket.destroy();
    } finally {
      await served.close();
    }
  });

  it('TCP: a refused second client that had sent bytes does not hold up close()', async function () {
    const served = await serveTcp({ index: 4 });
    const first = createConnection({ host: '127.0.0.1', port: served.port });
    await new Promise((resolve) => first.once('connect', resolve));
    const second = createConnection({ host: '127.0.0.1', port: served.port });
    second.on('error', () => {});
    second.resume();
    // It talks before it hears it is refused: those bytes must not keep the refused socket open.
    second.write('hello\n');
    await new Promise((resolve) => second.once('close', resolve));
    first.destroy();
    expect(await within(3_000, served.close())).to.not.equal('timeout');
  });

  it('many boards in one process, each with its own MAC and id', async function () {
    const boards = [1, 2, 3].map((index) => openStreamBoard({ index }));
    try {
      const hellos = await Promise.all(boards.map(async (b) => {
        const agent = new AgentClient(b.stream);
        await agent.waitEvent('boot');
        return agent.ok<HelloReply>('hello');
      }));
      expect(new Set(hellos.map((h) => h.chip.mac)).size).to.equal(3);
      expect(new Set(boards.map((b) => b.board.id)).size).to.equal(3);
    } finally {
      await Promise.all(boards.map((b) => b.close()));
    }
  });

  describe('pseudo-terminal', function () {
    before(function () {
      if (!hasSocat) {
        console.log('    (socat is not installed: the pseudo-terminal tests need it; apt-get install socat)');
        this.skip();
      }
    });

    it('serialport opens the board like a USB serial bridge, and can open it again', async function () {
      const served = await servePty({ index: 4 });
      try {
        for (let round = 0; round < 2; round++) {
          const port = new SerialPort({ path: served.path, baudRate: 115200, autoOpen: false });
          await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
          const agent = new AgentClient(port);
          expect((await agent.ok<HelloReply>('hello')).chip.mac, `round ${round}`).to.equal('24:0a:c4:00:00:04');
          await new Promise<void>((resolve) => port.close(() => resolve()));
          if (round === 0) await waitForPath(served.path);
        }
      } finally {
        await served.close();
      }
    });

    it('refuses a path that exists already, and leaves it as it was', async function () {
      const tmp = await tempDir();
      try {
        const path = join(tmp.dir, 'tty');
        await writeFile(path, 'not ours');
        const err = await rejection(servePty({ index: 5, path }));
        expect(err).to.be.instanceOf(PtyPathTakenError);
        expect(err.message).to.equal(`${path} already exists (another emulator's pseudo-terminal, or a stale link): remove it if nothing uses it, or choose another path`);
        expect(await readFile(path, 'utf8')).to.equal('not ours');
      } finally {
        await tmp.remove();
      }
    });

    it('`hilt emulate --pty --json` prints where to connect and stops on Ctrl-C', async function () {
      const child = spawn(process.execPath, [HILT_BIN, 'emulate', '--pty', '--json', '--count', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const lines: Array<Record<string, unknown>> = [];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ready line: ${JSON.stringify(lines)}`)), 15_000);
          createInterface({ input: child.stdout }).on('line', (line) => {
            const o = JSON.parse(line) as Record<string, unknown>;
            lines.push(o);
            if (o.type === 'ready') { clearTimeout(timer); resolve(); }
          });
        });
        const boards = lines.filter((l) => l.type === 'board');
        expect(boards).to.have.length(2);
        expect(boards[0]!.target).to.match(/^serial:\//);
        const port = new SerialPort({ path: boards[1]!.pty as string, baudRate: 115200 });
        const agent = new AgentClient(port);
        expect((await agent.ok<HelloReply>('hello')).chip.mac).to.equal('24:0a:c4:00:00:02');
        await new Promise<void>((resolve) => port.close(() => resolve()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        expect(await exited).to.equal(0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});

/** socat recreates the pty link after a close; wait for it (bounded, on the file system's word). */
async function waitForPath(path: string): Promise<void> {
  const { access } = await import('node:fs/promises');
  const { watch } = await import('node:fs');
  const { dirname, basename } = await import('node:path');
  if (await access(path).then(() => true, () => false)) return;
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(dirname(path), (_event, name) => {
      if (name === basename(path)) { clearTimeout(timer); watcher.close(); resolve(); }
    });
    const timer = setTimeout(() => { watcher.close(); reject(new Error(`${path} did not come back within 5 s`)); }, 5_000);
    access(path).then(() => { clearTimeout(timer); watcher.close(); resolve(); }, () => { /* wait for the watcher */ });
  });
}
