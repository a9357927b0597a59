/**
 * The Device: commands and replies over a transport, console lines and expect(), fail-fast on
 * panics, console logs. Against the emulated board, and against a scripted agent (a test double
 * that speaks protocol lines the test chooses) for what a healthy board never does.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { Device, DeviceError, PanicError, WindowError } from '../../harness/device/device.ts';
import { MemoryTransport } from '../../harness/transport/index.ts';
import { openStreamBoard, type StreamBoard } from '../../emulator/index.ts';
import { tempDir } from '../helpers.ts';

/** A scripted agent: the test reads what the host sent and writes what the "device" says. */
function scriptedAgent(): { transport: MemoryTransport; say: (line: string) => void; heard: string[]; end: () => void } {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const heard: string[] = [];
  fromHost.on('data', (chunk: Buffer) => heard.push(...chunk.toString().split('\n').filter(Boolean)));
  return {
    transport: new MemoryTransport(Duplex.from({ readable: toHost, writable: fromHost }), 'scripted agent'),
    say: (line) => toHost.write(`${line}\n`),
    heard,
    end: () => toHost.end(),
  };
}

const HELLO = {
  proto: 1, agent: { name: 'scripted', version: '0' }, fw: { project: 'p', version: '1', idf: 'v5.5', elf_sha256: null },
  chip: { model: 'ESP32', revision: 3, cores: 2, mac: '24:0a:c4:00:00:99' },
  mbedtls: { version: '3.6.3', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false, ciphersuites: [] },
  heap: { free: 1, min_free: 1, largest: 1 }, time: { epoch: 0, synced: false },
};

/** Answers every hello the host sends with `hello` (the scripted agent's only skill). */
function answerHello(agent: ReturnType<typeof scriptedAgent>, hello: object = HELLO): void {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    for (const line of agent.heard) {
      const m = /^@hil (\d+) hello$/.exec(line);
      if (m && !seen.has(m[1]!)) {
        seen.add(m[1]!);
        agent.say(`@hil ${m[1]} ok ${JSON.stringify(hello)}`);
      }
    }
  }, 5);
  timer.unref();
}

describe('Device', function () {
  describe('on the emulated board', function () {
    let served: StreamBoard;
    let device: Device;

    beforeEach(async function () {
      served = openStreamBoard({ index: 5 });
      device = await Device.open(new MemoryTransport(served.stream, 'emulated ESP32'));
    });
    afterEach(async function () {
      await device.close();
      await served.close();
    });

    it('opens with hello, without waiting for a boot banner', function () {
      expect(device.hello!.chip.mac).to.equal('24:0a:c4:00:00:05');
      expect(device.hello!.proto).to.equal(1);
    });

    it('keeps console text apart from protocol lines, parsed as ESP-IDF logs', async function () {
      const line = await device.expect(/main_task: Calling app_main\(\)/, { since: 0 });
      expect(line.log).to.include({ level: 'I', tag: 'main_task', message: 'Calling app_main()' });
      expect(device.lines.some((l) => l.text.startsWith('@hil'))).to.equal(false);
      expect(device.events[0]).to.include({ name: 'boot' });
    });

    it('resets through the agent and sees the new boot event, without calling it a crash', async function () {
      const from = device.events.length;
      await device.reset();
      expect(device.events.slice(from).map((e) => e.name)).to.include('boot');
      expect((await device.command('heap.stats')).free).to.equal(147_968);
    });

    it('expect(): fails fast on a notMatching line, and names what it waited for on timeout', async function () {
      const since = device.mark();
      await device.command('time.set', { epoch: 1_800_000_000 });
      const error = await device.expect(/never printed/, { since, notMatching: /time set to/ }).catch((e: Error) => e);
      expect((error as Error).message).to.match(/^console printed "I \(\d+\) hil_agent: time set to 2027-01-15T08:00:00\.000Z", which must not appear/);
      const timeout = await device.expect(/never printed/, { timeoutMs: 50, since: device.mark() }).catch((e: Error) => e);
      expect((timeout as Error).message).to.equal('console did not print /never printed/ within 50 ms');
    });

    it('writes a console log with host timestamps, protocol lines included', async function () {
      const tmp = await tempDir();
      try {
        const path = join(tmp.dir, 'console.log');
        device.startLog(path);
        await device.command('time.set', { epoch: 1_800_000_000 });
        await device.stopLog();
        const lines = (await readFile(path, 'utf8')).trim().split('\n');
        expect(lines[0]).to.match(/^# emulated ESP32, started \d{4}-/);
        expect(lines.some((l) => /^\[\s+\d+\.\d{3}\] > @hil \d+ time\.set epoch=1800000000$/.test(l))).to.equal(true);
        expect(lines.some((l) => /^\[\s+\d+\.\d{3}\] I \(\d+\) hil_agent: time set to/.test(l))).to.equal(true);
      } finally {
        await tmp.remove();
      }
    });
  });

  describe('against a scripted agent', function () {
    it('a device that never answers hello: a DeviceError after the hello timeout', async function () {
      const agent = scriptedAgent();
      const error = await Device.open(agent.transport, { helloTimeoutMs: 200 }).catch((e: Error) => e);
      expect(error).to.be.instanceOf(DeviceError);
      expect((error as Error).message).to.equal('scripted agent: no reply to hello within 200 ms: is the test agent firmware running on it?');
    });

    it('refuses a protocol version it does not know', async function () {
      const agent = scriptedAgent();
      answerHello(agent, { ...HELLO, proto: 2 });
      const error = await Device.open(agent.transport, { helloTimeoutMs: 2_000 }).catch((e: Error) => e);
      expect(error).to.be.instanceOf(DeviceError);
      expect((error as Error).message).to.match(/^scripted agent: .*proto(col)? (version )?2.*: update hilt or the agent firmware$/);
    });

    it('a panic fails the pending command at once, with the reason', async function () {
      const agent = scriptedAgent();
      answerHello(agent);
      const device = await Device.open(agent.transport);
      const pending = device.command('heap.stats', {}, { timeoutMs: 10_000 });
      agent.say("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.");
      const error = await pending.catch((e: Error) => e);
      expect(error).to.be.instanceOf(PanicError);
      expect((error as PanicError).panic).to.include({ kind: 'guru_meditation', reason: 'LoadProhibited' });
      await device.close();
    });

    it('a power-on banner is no crash, a reboot nobody asked for is', async function () {
      const agent = scriptedAgent();
      answerHello(agent);
      const device = await Device.open(agent.transport);
      agent.say('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)');
      await device.expect(/POWERON_RESET/, { since: 0 });
      const pending = device.command('heap.stats', {}, { timeoutMs: 10_000 });
      agent.say('rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)');
      const error = await pending.catch((e: Error) => e);
      expect(error).to.be.instanceOf(PanicError);
      expect((error as PanicError).panic.kind).to.equal('unexpected_reset');
      await device.close();
    });

    it('a device that goes away fails what is pending with a DeviceError', async function () {
      const agent = scriptedAgent();
      answerHello(agent);
      const device = await Device.open(agent.transport);
      const pending = device.command('heap.stats', {}, { timeoutMs: 10_000 });
      agent.end();
      const error = await pending.catch((e: Error) => e);
      expect(error).to.be.instanceOf(DeviceError);
      expect((error as Error).message).to.match(/^scripted agent: (went away|cannot send heap\.stats)/);
      await device.close();
    });

    it('keeps a bounded window of events: old ones go, a wait from a mark that fell out says so', async function () {
      const agent = scriptedAgent();
      answerHello(agent);
      const device = await Device.open(agent.transport, { eventWindow: { maxLines: 50 } });
      try {
        const start = device.eventMark();
        const payload = Buffer.from('x'.repeat(100)).toString('base64');
        for (let i = 0; i < 200; i++) agent.say(`@hil * mqtt.message {"topic":"t/${i}","qos":0,"payload":"${payload}"}`);
        agent.say('@hil * boot {"proto":1,"reason":"software"}');
        // A wait from now sees what comes; the last event is there, the 200 before it mostly not.
        const boot = await device.waitEvent('boot', { since: start + 200, timeoutMs: 5_000 });
        expect(boot.body).to.deep.equal({ proto: 1, reason: 'software' });
        expect(device.events).to.have.length(50);
        expect(device.eventMark()).to.equal(start + 201);
        expect(device.events.at(-2)!.body).to.include({ topic: 't/199' });
        // A wait from before the window: not a silent look at fewer events, an error naming the loss.
        const lost = await device.waitEvent('mqtt.message', { since: start, timeoutMs: 1_000 }).catch((e: Error) => e);
        expect(lost).to.be.instanceOf(WindowError);
        expect((lost as Error).message).to.equal(`the device events since mark ${start} are no longer all in memory: 151 of them were dropped ` +
          "(a device keeps its last 50 events or 1048576 bytes of them; every event is in the scenario's console log): take the mark closer to what is looked for");
      } finally {
        await device.close();
      }
    });
  });
});
