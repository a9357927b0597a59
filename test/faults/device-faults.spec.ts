/**
 * Devices that misbehave, on a real pseudo-terminal through the serial target, as a board on a USB
 * bridge would: each fault is answered by an error that names the device and says what happened,
 * within the bound the harness promises. Floods, over-long lines and wrong-baud garbage have more
 * to them (memory, a swallowed reply, naming the garbage) that other tests cover: see README.md.
 */
import { expect } from 'chai';
import { Device, DeviceError, PanicError } from '../../harness/device/device.ts';
import { resolveTarget } from '../../harness/device/targets/index.ts';
import { FaultDevice, GURU_MEDITATION, SOCAT_MISSING, hasSocat } from './fault-device.ts';

describe('fault catalogue: devices that misbehave (pty)', function () {
  this.timeout(20_000);
  let fault: FaultDevice;
  let device: Device | null;

  before(function () {
    if (!hasSocat) {
      console.log(`      skipped: ${SOCAT_MISSING}`);
      this.skip();
    }
  });

  beforeEach(async function () {
    fault = await FaultDevice.start();
    device = null;
  });

  afterEach(async function () {
    await device?.close();
    await fault.close();
  });

  /** Opens the fault device the way `hilt run --target serial:<pty>?reset=none` does. */
  async function open(options: { helloTimeoutMs?: number; commandTimeoutMs?: number } = {}): Promise<Device> {
    const target = resolveTarget(fault.target);
    expect(target).to.include({ kind: 'serial', reset: 'hello' });
    device = await Device.open(await target.transport(), { helloTimeoutMs: 5_000, commandTimeoutMs: 5_000, ...options });
    return device;
  }

  const named = () => `serial ${fault.path} at 115200 baud`;

  it('answers hello like the agent, over the pty', async function () {
    const d = await open();
    expect(d.hello?.fw.project).to.equal('fault_device');
    expect(d.description).to.equal(named());
    expect(fault.heard[0]).to.match(/^@hil \d+ hello$/);
  });

  it('silent from the start: opening fails after the hello timeout, naming the device and the likely cause', async function () {
    fault.silent();
    const error = await open({ helloTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DeviceError);
    expect((error as Error).message).to.equal(`${named()}: no reply to hello within 300 ms: is the test agent firmware running on it?`);
    expect((error as DeviceError).exitCode).to.equal(3);
  });

  it('goes silent after opening: the command times out with an error naming the device, and it recovers when answers resume', async function () {
    const d = await open();
    fault.silent();
    const error = await d.command('heap.stats', {}, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DeviceError);
    expect((error as Error).message).to.equal(`${named()}: no reply to heap.stats within 300 ms`);
    fault.answer();
    expect(await d.command('heap.stats')).to.deep.equal({ free: 100_000, min_free: 90_000, largest: 60_000 });
  });

  it('panics while a command waits: a PanicError with the exception, and the whole dump is on the console', async function () {
    const d = await open();
    fault.panicOn('heap.stats');
    const error = await d.command('heap.stats', {}, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PanicError);
    expect((error as PanicError).panic).to.include({ kind: 'guru_meditation', reason: 'LoadProhibited' });
    expect((error as PanicError).exitCode).to.equal(1);
    await d.expect(/^Rebooting\.\.\.$/, { since: 0, timeoutMs: 5_000 });
    expect(d.consoleSince(0)).to.include.members(GURU_MEDITATION.filter((l) => l !== ''));
  });

  it('disappears (pty closed) while a command waits: a DeviceError saying it went away, and every later command fails at once', async function () {
    const d = await open();
    fault.silent();
    const pending = d.command('heap.stats', {}, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    await fault.waitHeard(/ heap\.stats$/);
    await fault.disappear();
    const error = await pending;
    expect(error).to.be.instanceOf(DeviceError);
    expect((error as Error).message).to.match(new RegExp(`^${escape(named())}: (went away|cannot send heap\\.stats)`));
    const started = Date.now();
    const later = await d.command('hello', {}, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(later).to.be.instanceOf(DeviceError);
    // At once: not after the 10 s the command would otherwise wait.
    expect(Date.now() - started).to.be.below(5_000);
  });

  it('floods the console (2000 lines/s): commands are still answered and the lines still arrive', async function () {
    const d = await open();
    let seen = 0;
    d.on('line', () => { seen += 1; });
    const flood = fault.flood(2_000);
    try {
      for (let i = 0; i < 10; i++) expect(await d.command('heap.stats')).to.have.property('free', 100_000);
      await d.expect(/chatty: .* #200$/, { since: 0, timeoutMs: 5_000 });
    } finally {
      flood.stop();
    }
    expect(seen).to.be.at.least(200);
  });

  it('prints boot noise at the wrong baud rate, then a newline: the noise is console text and replies still come', async function () {
    const d = await open();
    await fault.garbage(512);
    await fault.say('');
    expect(await d.command('heap.stats')).to.have.property('free', 100_000);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
