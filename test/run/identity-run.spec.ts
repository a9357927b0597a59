/**
 * `hilt run` against a board found by identity: the emulated board behind a pseudo-terminal,
 * listed by a fixture sysfs tree as a CP2102 with serial number 0001 (a stand-in for the USB
 * bridge). The run finds it, talks to it, and its report names the port it used.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HILT_BIN, REPO, latestResults, run, tempDir } from '../helpers.ts';
import { hasSocat } from '../transport/peers.ts';
import { writeUsbSysfs } from '../transport/usb-fixture.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

/** `hilt emulate --pty --json`: its pty once ready (bounded), and a stop that waits for its exit. */
async function emulatePty(): Promise<{ pty: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [HILT_BIN, 'emulate', '--pty', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pty = await new Promise<string>((resolve, reject) => {
    let path = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no ready line within 15 s: ${stderr}`)); }, 15_000);
    void exited.then(() => { clearTimeout(timer); reject(new Error(`hilt emulate exited: ${stderr}`)); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as { type: string; pty?: string };
      if (o.type === 'board') path = o.pty!;
      if (o.type === 'ready') { clearTimeout(timer); resolve(path); }
    });
  });
  return {
    pty,
    stop: async () => {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

describe('a run against a board found by identity', function () {
  this.timeout(60_000);

  before(function () {
    if (!hasSocat) this.skip();
  });

  it('finds the board by serial number, passes, and names the port in results.json and summary.md', async function () {
    const tmp = await tempDir();
    const board = await emulatePty();
    try {
      const sys = join(tmp.dir, 'sys');
      const dev = join(tmp.dir, 'dev');
      await writeUsbSysfs(sys, [{ tty: 'ttyUSB3', vid: '10c4', pid: 'ea60', serial: '0001', manufacturer: 'Silicon Labs', location: '1-1.2' }]);
      await mkdir(dev);
      await symlink(board.pty, join(dev, 'ttyUSB3'));
      const env = { ...process.env, HILT_SYSFS_ROOT: sys, HILT_DEV_ROOT: dev };
      const ran = await run(process.execPath, [HILT_BIN, 'run', HAPPY, '--target', 'serial:?serial_number=0001&reset=none'], { cwd: tmp.dir, timeoutMs: 50_000, env });
      expect(ran.code, ran.stderr).to.equal(0);
      const results = await latestResults(tmp.dir);
      expect(results.run.target).to.equal('serial:?serial_number=0001&reset=none');
      expect(results.run.port).to.equal(join(dev, 'ttyUSB3'));
      expect(await readFile(join(tmp.dir, 'reports', 'latest', 'summary.md'), 'utf8')).to.include(`port \`${join(dev, 'ttyUSB3')}\``);
    } finally {
      await board.stop();
      await tmp.remove();
    }
  });
});
