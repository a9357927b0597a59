/** The QEMU launcher, QMP client and qemu: target, against real upstream qemu-system-xtensa (`-M none`). */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { resolveTarget } from '../../harness/device/targets/index.ts';
import { qemuTargetKind, QEMU_HOST_ADDRESS } from '../../harness/device/targets/qemu.ts';
import { UsageError } from '../../harness/errors.ts';
import { defaultEsp32Efuse, findQemu, qemuArgs, startQemu, type QemuInstance } from '../../harness/qemu/launcher.ts';
import type { QmpEvent } from '../../harness/qemu/qmp.ts';
import type { CloseInfo } from '../../harness/transport/transport.ts';
import { mergeFlashImage, readIdfBuild } from '../../harness/wire/idf-build.ts';
import { writeIdfBuildFixture } from '../esp/idf-build.ts';
import { REPO, rejection, run, tempDir } from '../helpers.ts';
import { needQemu, writeQemuStandIn } from './helpers.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process that is not our child has ended (or is a zombie waiting for init), asked again
 * until `timeoutMs`: its death after a SIGKILL is not instant, and no event tells a non-parent.
 */
async function ends(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state = '';
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? '';
    } catch {
      return true;
    }
    if (state === 'Z' || state === 'X') return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('QEMU: command line and binary', function () {
  it('gives an ESP32 the arguments idf.py qemu gives it, with serial and QMP on local TCP ports', function () {
    const args = qemuArgs({ machine: 'esp32', host: '127.0.0.1', serialPort: 5555, qmpPort: 5556, files: { flashImage: '/b/flash.bin', efuseImage: '/b/efuse.bin' } });
    const text = args.join(' ');
    expect(text).to.contain('-M esp32 -m 4M');
    expect(text).to.contain('-drive file=/b/flash.bin,if=mtd,format=raw');
    expect(text).to.contain('-drive file=/b/efuse.bin,if=none,format=raw,id=efuse -global driver=nvram.esp32.efuse,property=drive,value=efuse');
    expect(text).to.contain('-global driver=timer.esp32.timg,property=wdt_disable,value=true');
    expect(text).to.contain('-nic user,model=open_eth');
    expect(text).to.contain('-serial tcp:127.0.0.1:5555,server,wait=off');
    expect(text).to.contain('-qmp tcp:127.0.0.1:5556,server,wait=off');
    expect(args).to.not.include('-S');
  });

  it('writes the eFuse block idf.py qemu writes: 124 bytes, chip revision 3', function () {
    const efuse = defaultEsp32Efuse();
    expect(efuse.length).to.equal(124);
    expect([...efuse].map((b, i) => [i, b]).filter(([, b]) => b !== 0)).to.deep.equal([[13, 0x80], [22, 0x10]]);
  });

  it('takes HILT_QEMU first, then qemu-system-xtensa on PATH', async function () {
    const tmp = await tempDir();
    try {
      const fake = await writeQemuStandIn(tmp.dir, '/bin/false');
      expect(findQemu({ HILT_QEMU: fake, PATH: '/usr/bin' })).to.equal(fake);
      const upstream = needQemu(this);
      expect(findQemu({ PATH: `/nonexistent:${join(upstream, '..')}` })).to.equal(upstream);
    } finally {
      await tmp.remove();
    }
  });

  it('a missing binary is one line naming HILT_QEMU and where Espressif publishes QEMU (exit 2)', async function () {
    const tmp = await tempDir();
    const notProgram = join(tmp.dir, 'qemu-system-xtensa');
    await writeFile(notProgram, 'not a program', { mode: 0o644 });
    const cases = [{ PATH: '/nonexistent' }, { HILT_QEMU: '/nonexistent/qemu', PATH: '/usr/bin' }, { HILT_QEMU: notProgram }, { HILT_QEMU: tmp.dir }, { PATH: tmp.dir }];
    try {
      for (const env of cases) {
        let err: unknown = null;
        try {
          findQemu(env);
        } catch (e) {
          err = e;
        }
        expect(err, JSON.stringify(env)).to.be.instanceOf(UsageError);
        const message = (err as Error).message;
        expect(message).to.contain('HILT_QEMU');
        expect(message).to.contain('https://github.com/espressif/qemu/releases');
        expect(message).to.contain('idf_tools.py install qemu-xtensa');
        expect(message).to.not.contain('\n');
      }
    } finally {
      await tmp.remove();
    }
  });
});

describe('QEMU: launcher and QMP against upstream qemu-system-xtensa', function () {
  this.timeout(30_000);
  let binary: string;
  let qemu: QemuInstance | null = null;

  before(function () {
    binary = needQemu(this);
  });
  afterEach(async function () {
    await qemu?.stop();
    qemu = null;
  });

  it('starts QEMU, greets QMP, and QEMU serves its serial port on TCP', async function () {
    qemu = await startQemu({ binary, machine: 'none' });
    expect(qemu.qmp.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(await qemu.qmp.execute('query-status')).to.deep.include({ running: true, status: 'running' });
    const socket = net.connect({ host: qemu.host, port: qemu.serialPort });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.destroy();
  });

  for (const machine of ['none', 'sim']) {
    it(`system_reset resets the machine (-M ${machine}): QEMU reports the RESET QMP asked for, and runs on`, async function () {
      qemu = await startQemu({ binary, machine });
      const events: QmpEvent[] = [];
      qemu.qmp.on('event', (e: QmpEvent) => events.push(e));
      await qemu.reset();
      expect(events.map((e) => [e.event, e.data?.reason])).to.deep.include(['RESET', 'host-qmp-system-reset']);
      expect(await qemu.qmp.execute('query-status')).to.deep.include({ running: true });
    });
  }

  it('starts paused when asked, and runs once resumed', async function () {
    qemu = await startQemu({ binary, machine: 'none', paused: true });
    expect(await qemu.qmp.execute('query-status')).to.deep.include({ running: false, status: 'prelaunch' });
    await qemu.resume();
    expect(await qemu.qmp.execute('query-status')).to.deep.include({ running: true });
  });

  it('stop() ends QEMU through QMP quit: it exits 0 and its process is gone; a second stop() is a no-op', async function () {
    qemu = await startQemu({ binary, machine: 'none' });
    const { pid } = qemu;
    await qemu.stop();
    expect(qemu.exit).to.deep.equal({ code: 0, signal: null });
    expect(alive(pid)).to.equal(false);
    await qemu.stop();
  });

  it('a hilt that exits without stopping QEMU (an uncaught error, process.exit) takes QEMU with it', async function () {
    const script = `import { startQemu } from ${JSON.stringify(new URL('../../harness/qemu/launcher.ts', import.meta.url).href)};
const q = await startQemu({ binary: ${JSON.stringify(binary)}, machine: 'none' });
console.log(q.pid);
process.exit(7);`;
    const ran = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO });
    expect(ran.code, ran.stderr).to.equal(7);
    const pid = Number(ran.stdout.trim());
    expect(pid).to.be.above(0);
    expect(await ends(pid), 'QEMU outlived hilt').to.equal(true);
  });

  it('a port taken between hilt\'s choice and QEMU\'s bind: QEMU is started again on new ports', async function () {
    const tmp = await tempDir();
    try {
      // The first start fails as QEMU does when its -serial port is taken; the second runs QEMU.
      const script = join(tmp.dir, 'qemu-port-taken-once');
      await writeFile(script, `#!/bin/bash
if [ ! -e '${tmp.dir}/tried' ]; then
  touch '${tmp.dir}/tried'
  echo "qemu-system-xtensa: -serial tcp:127.0.0.1:1234,server,wait=off: Failed to bind socket: Address already in use" >&2
  exit 1
fi
exec '${binary}' "$@"
`, { mode: 0o755 });
      qemu = await startQemu({ binary: script, machine: 'none' });
      expect(existsSync(join(tmp.dir, 'tried'))).to.equal(true);
      expect(await qemu.qmp.execute('query-status')).to.deep.include({ running: true });
    } finally {
      await qemu?.stop();
      await tmp.remove();
    }
  });

  it('an unknown QMP command is a QmpError with QEMU\'s own words, and the client goes on', async function () {
    qemu = await startQemu({ binary, machine: 'none' });
    const err = await rejection(qemu.qmp.execute('no-such-command'));
    expect(err.name).to.equal('QmpError');
    expect(err.message).to.match(/CommandNotFound/);
    expect(await qemu.qmp.execute('query-status')).to.deep.include({ running: true });
  });

  it('a binary without the esp32 machine (upstream QEMU) is one line naming it and where to get Espressif\'s (exit 2)', async function () {
    const err = await rejection(startQemu({ binary }));
    expect(err).to.be.instanceOf(UsageError);
    expect(err.message).to.match(/has no esp32 machine \(upstream QEMU, such as Debian's qemu-system-misc, has none\): use Espressif's build through HILT_QEMU; Espressif publishes it at https:\/\/github\.com\/espressif\/qemu\/releases/);
  });
});

describe('qemu: target', function () {
  this.timeout(30_000);
  let dir: string;
  let remove: () => Promise<void>;
  let binary: string;

  beforeEach(async function () {
    binary = needQemu(this);
    ({ dir, remove } = await tempDir('hilt-qemu-target-'));
  });
  afterEach(async function () {
    await remove();
  });

  it('parses qemu:BUILD_DIR with mode and reset, and names 10.0.2.2 for the lab certificates', async function () {
    const build = await writeIdfBuildFixture(join(dir, 'build'));
    const t = resolveTarget(`qemu:${build.dir}?mode=firmware`);
    expect(t).to.include({ kind: 'qemu', mode: 'firmware', reset: 'agent' });
    expect(t.certificateHosts).to.deep.equal([QEMU_HOST_ADDRESS]);
    expect(t.resetDevice).to.be.a('function');
    const quiet = resolveTarget(`qemu:${build.dir}?reset=none`);
    expect(quiet).to.include({ mode: 'agent', reset: 'hello' });
    expect(quiet.resetDevice).to.equal(undefined);
  });

  it('refuses what it cannot run, each in one line: no folder, not a build, another chip, an unknown option', async function () {
    const other = await writeIdfBuildFixture(join(dir, 's3'), { chip: 'esp32s3' });
    const cases: Array<[string, RegExp]> = [
      ['qemu:', /give the ESP-IDF build folder, e.g\. qemu:build/],
      [`qemu:${dir}/nothing`, /does not exist/],
      [`qemu:${dir}`, /is not an ESP-IDF build: it has no flasher_args\.json/],
      [`qemu:${other.dir}`, /the build is for esp32s3: the qemu target runs ESP32 builds/],
      [`qemu:${other.dir}?baud=9600`, /unknown option "baud"/],
    ];
    for (const [url, pattern] of cases) {
      let err: unknown = null;
      try {
        resolveTarget(url);
      } catch (e) {
        err = e;
      }
      expect(err, url).to.be.instanceOf(UsageError);
      expect((err as Error).message, url).to.match(pattern).and.not.contain('\n');
    }
  });

  it('runs the merged build in the QEMU HILT_QEMU names, with idf.py qemu\'s arguments, and stops it on close', async function () {
    const build = await writeIdfBuildFixture(join(dir, 'build'));
    const standIn = await writeQemuStandIn(dir, binary);
    const t = qemuTargetKind({ binary: standIn }).parse(build.dir, new URLSearchParams(), `qemu:${build.dir}`);
    const transport = await t.transport();
    try {
      await transport.open();
      const args = readFileSync(join(dir, 'qemu.args'), 'utf8').trim().split('\n');
      expect(args.slice(0, 4)).to.deep.equal(['-M', 'esp32', '-m', '4M']);
      const flashDrive = args.find((a) => a.endsWith(',if=mtd,format=raw'))!;
      const flashPath = /^file=(.*),if=mtd,format=raw$/.exec(flashDrive)![1]!;
      // The image QEMU boots is the build merged at flasher_args.json's offsets, 0xFF to the flash size.
      const flash = readFileSync(flashPath);
      expect(flash.equals(mergeFlashImage(readIdfBuild(build.dir)))).to.equal(true);
      expect(flash.length).to.equal(2 * 1024 * 1024);
      expect(flash.subarray(0x10000, 0x10000 + build.appBytes.length).equals(build.appBytes)).to.equal(true);
      expect(args).to.include('-S'); // paused until hilt is on the serial port, then resumed
      const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8'));
      expect(alive(pid)).to.equal(true);
      await transport.close();
      await t.close();
      expect(alive(pid)).to.equal(false);
      expect(existsSync(flashPath)).to.equal(false);
    } finally {
      await t.close();
    }
  });

  it('a firmware-mode reset is QMP system_reset; after close there is nothing to reset', async function () {
    const build = await writeIdfBuildFixture(join(dir, 'build'));
    const t = qemuTargetKind({ binary, machine: 'none' }).parse(build.dir, new URLSearchParams('mode=firmware'), `qemu:${build.dir}?mode=firmware`);
    try {
      const transport = await t.transport();
      await transport.open();
      expect(await t.resetDevice!()).to.equal(true);
      await transport.close();
    } finally {
      await t.close();
    }
    expect(await t.resetDevice!()).to.equal(false);
  });

  it('a QEMU that dies mid-run closes the device\'s transport with how QEMU ended', async function () {
    const build = await writeIdfBuildFixture(join(dir, 'build'));
    const t = qemuTargetKind({ binary, machine: 'none' }).parse(build.dir, new URLSearchParams(), `qemu:${build.dir}`);
    try {
      const transport = await t.transport();
      await transport.open();
      const closed = new Promise<CloseInfo>((resolve) => transport.once('close', resolve));
      const pid = Number(/pid (\d+)/.exec(transport.description)![1]);
      process.kill(pid, 'SIGKILL');
      const info = await closed;
      expect(info).to.deep.equal({ expected: false, reason: `QEMU (pid ${pid}) was killed by SIGKILL` });
    } finally {
      await t.close();
    }
  });
});
