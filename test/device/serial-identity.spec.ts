/**
 * Serial targets by identity, on a fixture sysfs tree (a stand-in for USB bridges) whose device
 * nodes are links to real pseudo-terminals: the target finds its board by serial number, VID:PID
 * or bus location, again on every open, and says which port it used.
 */
import { expect } from 'chai';
import { mkdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveTarget } from '../../harness/device/targets/index.ts';
import { resolvePort } from '../../harness/device/targets/serial.ts';
import { FirmwareDevice } from '../../harness/device/firmware.ts';
import { IdentitySerialTransport } from '../../harness/device/targets/serial-identity.ts';
import type { CloseInfo } from '../../harness/transport/transport.ts';
import { SerialTransport } from '../../harness/transport/serial.ts';
import { SEQUENCES, parseResetSequence } from '../../harness/device/reset-sequence.ts';
import { UsageError } from '../../harness/errors.ts';
import { TransportError } from '../../harness/transport/transport.ts';
import { rejection, tempDir } from '../helpers.ts';
import { hasSocat, ptyPair } from '../transport/peers.ts';
import { writeUsbSysfs, type FakeUsbPort } from '../transport/usb-fixture.ts';

const CP2102: FakeUsbPort = { tty: 'ttyUSB0', vid: '10c4', pid: 'ea60', serial: '0001', manufacturer: 'Silicon Labs', location: '1-1.2' };
const JTAG: FakeUsbPort = { tty: 'ttyACM0', vid: '303a', pid: '1001', serial: 'F4:12:FA:00:00:01', manufacturer: 'Espressif', location: '1-1.4' };

describe('serial targets by identity', function () {
  let tmp: { dir: string; remove: () => Promise<void> };
  let sys: string;
  let dev: string;
  const saved = { sys: process.env.HILT_SYSFS_ROOT, dev: process.env.HILT_DEV_ROOT };

  let generation = 0;

  /**
   * Lays the bus out afresh: a re-enumeration, as far as the lister can tell. The new tree is
   * written beside the old one and swapped in with one rename of a symlink, as a real /sys never
   * vanishes: a lister polling meanwhile sees the old bus or the new one, never none.
   */
  async function bus(ports: FakeUsbPort[], links: Record<string, string> = {}): Promise<void> {
    const next = join(tmp.dir, `bus-${++generation}`);
    await mkdir(join(next, 'dev'), { recursive: true });
    await writeUsbSysfs(join(next, 'sys'), ports);
    for (const [name, target] of Object.entries(links)) await symlink(target, join(next, 'dev', name));
    for (const [path, inside] of [[sys, 'sys'], [dev, 'dev']] as const) {
      await symlink(join(next, inside), `${path}.new`);
      await rename(`${path}.new`, path);
    }
  }

  beforeEach(async function () {
    tmp = await tempDir();
    sys = join(tmp.dir, 'sys');
    dev = join(tmp.dir, 'dev');
    process.env.HILT_SYSFS_ROOT = sys;
    process.env.HILT_DEV_ROOT = dev;
  });

  afterEach(async function () {
    for (const [key, value] of [['HILT_SYSFS_ROOT', saved.sys], ['HILT_DEV_ROOT', saved.dev]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await tmp.remove();
  });

  it('finds the port by serial number, VID:PID or location', async function () {
    await bus([CP2102, JTAG]);
    expect((await resolvePort('t', { serialNumber: '0001' })).path).to.equal(join(dev, 'ttyUSB0'));
    expect((await resolvePort('t', { serialNumber: 'f4:12:fa:00:00:01' })).path, 'case does not matter').to.equal(join(dev, 'ttyACM0'));
    expect((await resolvePort('t', { vid: '303a', pid: '1001' })).path).to.equal(join(dev, 'ttyACM0'));
    expect((await resolvePort('t', { location: '1-1.2' })).path).to.equal(join(dev, 'ttyUSB0'));
  });

  it('gives up after its bounded tries, naming the identity and the ports there are', async function () {
    await bus([CP2102]);
    const err = await rejection(resolvePort('serial:?serial_number=9999', { serialNumber: '9999' }, 3, 10));
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.equal(`target serial:?serial_number=9999: no serial port has serial_number=9999 (looked 3 times over 20 ms); ports found: ${join(dev, 'ttyUSB0')} (10c4:ea60 serial 0001 at 1-1.2) (read from ${sys}/class/tty (udevadm, which lists ports properly, is not available)): check the board is plugged in (npx hilt ports)`);
  });

  it('waits for a board that shows up while it looks (re-enumeration after a reset)', async function () {
    await bus([CP2102]);
    const found = resolvePort('t', { vid: '303a', pid: '1001' }, 100, 20);
    await bus([CP2102, JTAG]);
    expect((await found).path).to.equal(join(dev, 'ttyACM0'));
  });

  it('refuses an identity that matches two ports, listing them', async function () {
    await bus([CP2102, { ...CP2102, tty: 'ttyUSB1', serial: '0002', location: '1-1.3' }]);
    const err = await rejection(resolvePort('serial:?vid=10c4&pid=ea60', { vid: '10c4', pid: 'ea60' }));
    expect(err).to.be.instanceOf(UsageError);
    expect(err.message).to.match(/^target serial:\?vid=10c4&pid=ea60: 2 ports match vid=10c4&pid=ea60: .*ttyUSB0 .*ttyUSB1 .*add serial_number= or location= to pick one/);
  });

  it('opens the port it found, names it, and looks again on the next open', async function () {
    if (!hasSocat) this.skip();
    const first = await ptyPair();
    const second = await ptyPair();
    try {
      await bus([JTAG], { ttyACM0: first.a });
      const target = resolveTarget('serial:?serial_number=F4:12:FA:00:00:01&reset=none');
      expect(target.description).to.equal('serial serial_number=F4:12:FA:00:00:01 at 115200 baud');
      const t1 = await target.transport();
      await t1.open();
      expect(target.resolvedPort).to.equal(join(dev, 'ttyACM0'));
      expect(target.description).to.equal(`serial ${join(dev, 'ttyACM0')} (serial_number=F4:12:FA:00:00:01) at 115200 baud`);
      expect(t1.description).to.equal(`serial ${join(dev, 'ttyACM0')} (serial_number=F4:12:FA:00:00:01) at 115200 baud`);
      await t1.close();
      // The board came back as another tty (as USB-Serial/JTAG does after a reset).
      await bus([{ ...JTAG, tty: 'ttyACM1' }], { ttyACM1: second.a });
      const t2 = await target.transport();
      await t2.open();
      expect(target.resolvedPort).to.equal(join(dev, 'ttyACM1'));
      const got = new Promise<string>((resolve) => { t2.once('data', (b: Buffer) => resolve(b.toString())); });
      const far = new SerialTransport({ path: second.b });
      await far.open();
      await far.write('hello from the board\n');
      expect(await got).to.equal('hello from the board\n');
      await far.close();
      await t2.close();
    } finally {
      await first.release();
      await second.release();
    }
  });

  /** Resolves with what `emitter` said first of `events`, or 'timeout' (bounded). */
  function first(emitter: NodeJS.EventEmitter, events: string[], ms = 10_000): Promise<{ event: string; value: unknown } | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), ms);
      for (const event of events) emitter.once(event, (value: unknown) => { clearTimeout(timer); resolve({ event, value }); });
    });
  }

  it('a board that went away and came back on another tty: found again, no close, bytes flow from the new port', async function () {
    if (!hasSocat) this.skip();
    const before = await ptyPair();
    const after = await ptyPair();
    const t = new IdentitySerialTransport({ url: 'serial:?serial_number=0001', identity: { serialNumber: '0001' }, baudRate: 115_200, tries: 20, intervalMs: 50 });
    try {
      await bus([CP2102], { ttyUSB0: before.a });
      // A firmware device reads the console through it: the report hears of the new port.
      const device = await FirmwareDevice.open(t);
      expect(t.port?.path).to.equal(join(dev, 'ttyUSB0'));
      // It re-enumerates: the identity is on ttyUSB1 now, and the old port hangs up.
      await bus([{ ...CP2102, tty: 'ttyUSB1' }], { ttyUSB1: after.a });
      const said = first(t, ['reopened', 'close']);
      before.socat.kill('SIGKILL');
      expect(await said).to.deep.equal({ event: 'reopened', value: join(dev, 'ttyUSB1') });
      expect(device.notes.map((n) => [n.kind, n.message])).to.deep.equal([
        ['reopened', `the board went away and was found again on ${join(dev, 'ttyUSB1')} (re-enumerated): output while it was away is lost`],
      ]);
      expect(t.isOpen).to.equal(true);
      expect(t.description).to.equal(`serial ${join(dev, 'ttyUSB1')} (serial_number=0001) at 115200 baud`);
      const far = new SerialTransport({ path: after.b });
      await far.open();
      try {
        const got = new Promise<string>((resolve) => t.once('data', (b: Buffer) => resolve(b.toString())));
        await far.write('back\n');
        expect(await got).to.equal('back\n');
        const echoed = new Promise<string>((resolve) => far.once('data', (b: Buffer) => resolve(b.toString())));
        await t.write('hello\n');
        expect(await echoed).to.equal('hello\n');
      } finally {
        await far.close();
      }
    } finally {
      await t.close();
      await before.release();
      await after.release();
    }
  });

  it('a board that does not come back: one close after the bounded tries, naming the identity', async function () {
    if (!hasSocat) this.skip();
    const pair = await ptyPair();
    const t = new IdentitySerialTransport({ url: 'serial:?serial_number=0001', identity: { serialNumber: '0001' }, baudRate: 115_200, tries: 3, intervalMs: 20 });
    try {
      await bus([CP2102], { ttyUSB0: pair.a });
      await t.open();
      await bus([]);
      const said = first(t, ['reopened', 'close']);
      pair.socat.kill('SIGKILL');
      const outcome = await said;
      expect(outcome).to.not.equal('timeout');
      const { event, value } = outcome as { event: string; value: CloseInfo };
      expect(event).to.equal('close');
      expect(value.expected).to.equal(false);
      expect(value.reason).to.match(/^serial port .*ttyUSB0 went away \(.*\).*; it did not come back as serial_number=0001 within 3 tries \(.*no serial port has serial_number=0001/);
      expect(t.isOpen).to.equal(false);
      expect((await rejection(t.write('x'))).message).to.match(/: it is closed$/);
    } finally {
      await t.close();
      await pair.release();
    }
  });

  it('refuses what cannot be meant, in one line each', function () {
    const cases: Array<[string, RegExp]> = [
      ['serial:/dev/ttyUSB0?serial_number=1', /give the port's path or its identity, not both: serial:\/dev\/ttyUSB0 or serial:\?serial_number=1$/],
      ['serial:?pid=1001', /pid=1001 needs its vid: write vid=303a&pid=1001$/],
      ['serial:?vid=cp2102', /vid=cp2102: give a USB id in hex, e\.g\. vid=303a&pid=1001$/],
      ['serial:/dev/ttyUSB0?reset=classic', /reset=classic enters download mode: give it as download=classic; reset= takes none, hard, hard-usb or a custom sequence$/],
      ['serial:/dev/ttyUSB0?reset=R1|W0.1|R0', /reset=: reset sequence "R1\|W0\.1\|R0": step 2 "W0\.1" counts seconds/],
      ['serial:/dev/ttyUSB0?download=classic,X9', /download=: reset sequence "X9": step 1 "X9" is not D0\/D1/],
    ];
    for (const [url, says] of cases) {
      const err = (() => { try { resolveTarget(url); } catch (e) { return e as Error; } return null; })();
      expect(err, url).to.be.instanceOf(UsageError);
      expect(err!.message, url).to.match(new RegExp(`^target ${url.replace(/[|?.]/g, '\\$&')}: `));
      expect(err!.message, url).to.match(says);
    }
  });

  it('picks sequences: the target\'s option, else hilt.config.json\'s bench.reset, else the bridge\'s', async function () {
    if (!hasSocat) this.skip();
    const pair = await ptyPair();
    try {
      await bus([JTAG], { ttyACM0: pair.a });
      const byBridge = resolveTarget('serial:?vid=303a&pid=1001&reset=none');
      // Before the port is found the bridge is unknown: esptool's defaults for a UART bridge.
      expect(byBridge.resetSequences!().hard).to.equal(SEQUENCES.hard);
      const t = await byBridge.transport();
      await t.open();
      expect(byBridge.resetSequences!()).to.deep.equal({ hard: SEQUENCES['hard-usb'], download: [SEQUENCES['usb-jtag']] });
      await t.close();
    } finally {
      await pair.release();
    }
    // A port given by path is looked up as well, for its bridge.
    await bus([JTAG]);
    const byPath = resolveTarget(`serial:${join(dev, 'ttyACM0')}`);
    await byPath.transport();
    expect(byPath.resetSequences!().hard).to.equal(SEQUENCES['hard-usb']);
    const bench = { hard: parseResetSequence('R1|W300|R0', 'flash'), download: [SEQUENCES['classic-slow']] };
    expect(resolveTarget('serial:/dev/ttyUSB0', { bench }).resetSequences!()).to.deep.equal(bench);
    const own = resolveTarget('serial:/dev/ttyUSB0?reset=hard-usb&download=classic', { bench }).resetSequences!();
    expect(own).to.deep.equal({ hard: SEQUENCES['hard-usb'], download: [SEQUENCES.classic] });
  });

});
