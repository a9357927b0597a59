/**
 * Board control gone wrong, through `bin/hilt.js` as a bench engineer meets it: a board that is
 * not on the bus, an identity that fits two boards, a sequence written in esptool's seconds, a
 * bench config with a download sequence as its hard reset; and fuzz of the two parsers that read
 * outside text (reset sequences, ROM boot lines). One line each, exit 2 or 3, never a stack.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseResetSequence } from '../../harness/device/reset-sequence.ts';
import { UsageError } from '../../harness/errors.ts';
import { parseBootLine, parseElfShaLine } from '../../harness/wire/boot-line.ts';
import { HILT_BIN, REPO, run, tempDir } from '../helpers.ts';
import { writeUsbSysfs } from '../transport/usb-fixture.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines, stderr).to.have.length(1);
  expect(stderr).to.not.match(/\n\s+at /);
  return lines[0]!;
}

describe('board control faults', function () {
  this.timeout(60_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  let env: NodeJS.ProcessEnv;
  const hilt = (args: string[]) => run(process.execPath, [HILT_BIN, ...args], { cwd: tmp.dir, timeoutMs: 50_000, env });

  before(async function () {
    tmp = await tempDir();
    await writeUsbSysfs(join(tmp.dir, 'sys'), [
      { tty: 'ttyUSB0', vid: '10c4', pid: 'ea60', serial: '0001', manufacturer: 'Silicon Labs', location: '1-1.2' },
      { tty: 'ttyUSB1', vid: '10c4', pid: 'ea60', serial: '0002', manufacturer: 'Silicon Labs', location: '1-1.3' },
    ]);
    env = { ...process.env, HILT_SYSFS_ROOT: join(tmp.dir, 'sys'), HILT_DEV_ROOT: join(tmp.dir, 'dev') };
  });

  after(async function () {
    await tmp.remove();
  });

  it('a board that is not on the bus: exit 3 after the bounded look, naming the identity and the ports there are', async function () {
    const started = Date.now();
    const { code, stderr } = await hilt(['run', HAPPY, '--target', 'serial:?serial_number=0009']);
    expect(code).to.equal(3);
    expect(oneLine(stderr)).to.match(/^hilt: .*no serial port has serial_number=0009 \(looked 10 times over 2700 ms\); ports found: .*ttyUSB0 \(10c4:ea60 serial 0001 at 1-1\.2\), .*ttyUSB1 .*: check the board is plugged in \(npx hilt ports\)$/);
    expect(Date.now() - started).to.be.below(40_000);
  });

  it('an identity that fits two boards: one line listing both', async function () {
    const { code, stderr } = await hilt(['run', HAPPY, '--target', 'serial:?vid=10c4&pid=ea60']);
    expect(code).to.equal(2);
    expect(oneLine(stderr)).to.match(/2 ports match vid=10c4&pid=ea60: .*ttyUSB0 .*ttyUSB1 .*add serial_number= or location= to pick one/);
  });

  it('a sequence in esptool\'s seconds on the target: exit 2 before anything starts, naming the step', async function () {
    const { code, stderr } = await hilt(['run', HAPPY, '--target', 'serial:/dev/ttyUSB0?mode=firmware&reset=R1|W0.1|R0']);
    expect(code).to.equal(2);
    expect(oneLine(stderr)).to.equal('hilt: --target serial:/dev/ttyUSB0?mode=firmware&reset=R1|W0.1|R0: reset=: reset sequence "R1|W0.1|R0": step 2 "W0.1" counts seconds as esptool does: write milliseconds, e.g. W100 for W0.1; or use reset=none or reset=hard');
  });

  it('a bench config whose hard reset is a download sequence: exit 2 naming the file and field', async function () {
    await writeFile(join(tmp.dir, 'hilt.config.json'), JSON.stringify({ bench: { reset: { hard: 'usb-jtag' } } }));
    try {
      const { code, stderr } = await hilt(['run', HAPPY, '--target', 'serial:/dev/ttyUSB0']);
      expect(code).to.equal(2);
      expect(oneLine(stderr)).to.equal('hilt: hilt.config.json: bench.reset.hard: usb-jtag enters download mode: put it under bench.reset.download');
    } finally {
      await writeFile(join(tmp.dir, 'hilt.config.json'), '{}');
    }
  });

  it('fuzz: any text as a reset sequence is a sequence or one UsageError line, never anything else', function () {
    const text = fc.oneof(fc.string({ maxLength: 80 }), fc.array(fc.constantFrom('D0', 'D1', 'R0', 'R1', 'U1,0', 'W100', 'W0.1', 'W', 'X', '', ' D1', 'W99999', '\n'), { maxLength: 80 }).map((s) => s.join('|')));
    fc.assert(fc.property(text, (t) => {
      try {
        const seq = parseResetSequence(t);
        expect(seq.steps.length).to.be.within(1, 64);
      } catch (err) {
        expect(err).to.be.instanceOf(UsageError);
        expect((err as Error).message).to.not.include('\n');
      }
    }), { seed: 7, numRuns: 2000 });
  });

  it('fuzz: any line is a boot line, an ELF SHA line or nothing, without throwing', function () {
    const line = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ maxLength: 20 }).map((s) => `rst:0x${s},boot:0x${s} (${s}`), fc.string({ maxLength: 80 }).map((s) => `I (1) app_init: ELF file SHA256: ${s}`));
    fc.assert(fc.property(line, (l) => {
      const boot = parseBootLine(l);
      if (boot) expect(Number.isInteger(boot.resetCode) && Number.isInteger(boot.bootCode)).to.equal(true);
      const sha = parseElfShaLine(l);
      if (sha !== null) expect(sha).to.match(/^[0-9a-f]{8,64}$/);
    }), { seed: 7, numRuns: 2000 });
  });
});
