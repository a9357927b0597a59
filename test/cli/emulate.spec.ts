/**
 * `hilt emulate` as users run it: two emulators with pseudo-terminals side by side, each keeping
 * its own links, and counts that make no sense refused.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Device } from '../../harness/device/device.ts';
import { SerialTransport } from '../../harness/transport/index.ts';
import { HILT_BIN, REPO, hilt, tempDir } from '../helpers.ts';

const hasSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;

interface Emulator {
  child: ChildProcess;
  ptys: string[];
  /** Ctrl-C, then the exit status (bounded). */
  stop(): Promise<number | null>;
  /** What it said on stderr so far. */
  stderr(): string;
}

/** Starts `hilt emulate --pty --json` and waits for its ready line (bounded). */
async function emulate(count: number): Promise<Emulator> {
  const child = spawn(process.execPath, [HILT_BIN, 'emulate', '--pty', '--json', '--count', String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => { if (signal) stderr += `(killed by ${signal})`; resolve(code); }));
  const ptys: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no ready line within 15 s: ${stderr}`)); }, 15_000);
    exited.then((code) => { clearTimeout(timer); reject(new Error(`hilt emulate exited (${code}): ${stderr}`)); }, reject);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as { type: string; pty?: string };
      if (o.type === 'board') ptys.push(o.pty!);
      if (o.type === 'ready') { clearTimeout(timer); resolve(); }
    });
  });
  return {
    child, ptys,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

describe('hilt emulate', function () {
  this.timeout(40_000);

  describe('two --pty emulators at once', function () {
    before(function () {
      if (!hasSocat) this.skip();
    });

    it('each links its own pseudo-terminals, and stopping one leaves the other\'s links working', async function () {
      const first = await emulate(2);
      let second: Emulator | null = null;
      try {
        second = await emulate(2);
        expect(first.ptys.filter((p) => second!.ptys.includes(p)), 'links shared by both').to.deep.equal([]);
        expect(await second.stop(), second.stderr()).to.equal(0);
        for (const path of second.ptys) expect(await exists(path), `${path} after its emulator stopped`).to.equal(false);
        for (const path of first.ptys) {
          expect(await exists(path), `${path} after the other emulator stopped`).to.equal(true);
          const device = await Device.open(new SerialTransport({ path }));
          try {
            expect(device.hello!.proto).to.equal(1);
          } finally {
            await device.close();
          }
        }
      } finally {
        if (second && second.child.exitCode === null) await second.stop();
        expect(await first.stop(), first.stderr()).to.equal(0);
      }
      for (const path of first.ptys) expect(await exists(path), `${path} after its emulator stopped`).to.equal(false);
    });
  });

  it('--sdkconfig /dev/zero: one line naming the file and exit 2, without reading it', async function () {
    const { code, stderr } = await hilt(['emulate', '--sdkconfig', '/dev/zero'], { timeoutMs: 15_000 });
    expect(code).to.equal(2);
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr.trim()).to.equal("hilt: --sdkconfig /dev/zero: is a character device, not a file: give the sdkconfig file of your firmware's build");
  });

  it('hilt run --target emulator:?sdkconfig=/dev/zero: one line and exit 2', async function () {
    const tmp = await tempDir();
    try {
      const { code, stderr } = await hilt(['run', join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts'), '--target', 'emulator:?sdkconfig=/dev/zero'], { cwd: tmp.dir, timeoutMs: 15_000 });
      expect(code).to.equal(2);
      expect(stderr.trim().split('\n')).to.have.length(1);
      expect(stderr).to.match(/sdkconfig \/dev\/zero is a character device, not a file/);
    } finally {
      await tmp.remove();
    }
  });

  it('--count 0: one line and exit 2', async function () {
    const { code, stderr } = await hilt(['emulate', '--pty', '--count', '0']);
    expect(code).to.equal(2);
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.match(/--count "0": give a whole number from 1 to 1000/);
  });
});
