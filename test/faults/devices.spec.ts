/**
 * Devices that misbehave, over a real pseudo-terminal: one that floods the console, one that
 * prints lines longer than any limit, one at the wrong baud rate. The far end is a scripted agent
 * on the other side of a socat pty pair: it answers `hello` and prints what the test tells it to.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { Device, WindowError } from '../../harness/device/device.ts';
import { SerialTransport } from '../../harness/transport/index.ts';
import { rejection, tempDir } from '../helpers.ts';
import { hasSocat, ptyPair } from '../transport/peers.ts';

const HELLO = {
  proto: 1, agent: { name: 'scripted', version: '0' }, fw: { project: 'p', version: '1', idf: 'v5.5', elf_sha256: null },
  chip: { model: 'ESP32', revision: 3, cores: 2, mac: '24:0a:c4:00:00:99' },
  mbedtls: { version: '3.6.3', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false, ciphersuites: [] },
  heap: { free: 1, min_free: 1, largest: 1 }, time: { epoch: 0, synced: false },
};

interface PtyAgent {
  /** The host's side: what a Device opens. */
  path: string;
  /** Writes raw bytes from the "device". */
  print(data: string | Buffer): Promise<void>;
  /** What the "device" prints when it hears command `command` with id `id` (default: a proper reply). */
  respond: (command: string, id: number) => string | Buffer;
  release(): Promise<void>;
}

const reply = (command: string, id: number) => `@hil ${id} ok ${command === 'hello' ? JSON.stringify(HELLO) : '{}'}\n`;

/** A scripted agent behind a real pty pair: answers each command as the test says. */
async function ptyAgent(): Promise<PtyAgent> {
  const pair = await ptyPair();
  const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => far.open((err) => (err ? reject(err) : resolve())));
  far.on('error', () => undefined);
  const print = (data: string | Buffer) => new Promise<void>((resolve, reject) => {
    far.write(data, (err) => (err ? reject(err) : far.drain(() => resolve())));
  });
  const agent: PtyAgent = {
    path: pair.a,
    print,
    respond: reply,
    release: async () => {
      if (far.isOpen) await new Promise<void>((resolve) => far.close(() => resolve()));
      await pair.release();
    },
  };
  let heard = '';
  far.on('data', (chunk: Buffer) => {
    heard += chunk.toString();
    let nl: number;
    while ((nl = heard.indexOf('\n')) !== -1) {
      const m = /^@hil (\d+) (\S+)/.exec(heard.slice(0, nl));
      heard = heard.slice(nl + 1);
      if (m) void print(agent.respond(m[2]!, Number(m[1])));
    }
  });
  return agent;
}

/** Bytes as a UART reads them at the wrong baud rate: noise, newlines included (seeded, so fixed). */
function noise(length: number): Buffer {
  let x = 12345;
  return Buffer.from(Array.from({ length }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x >> 23;
  }));
}

describe('faults: devices that misbehave (real pseudo-terminal)', function () {
  this.timeout(30_000);
  let agent: PtyAgent;
  let device: Device | null;
  let tmp: { dir: string; remove: () => Promise<void> };

  before(function () {
    if (!hasSocat) this.skip();
  });
  beforeEach(async function () {
    agent = await ptyAgent();
    tmp = await tempDir();
    device = null;
  });
  afterEach(async function () {
    await device?.close();
    await agent.release();
    await tmp.remove();
  });

  describe('a device that floods its console', function () {
    it('holds only its window of lines in memory, all of them in the console log, and says so when a mark fell out', async function () {
      const d = device = await Device.open(new SerialTransport({ path: agent.path }), { window: { maxLines: 200, maxBytes: 16 * 1024 } });
      const log = join(tmp.dir, 'console.log');
      d.startLog(log);
      const start = d.mark();
      const LINES = 5_000;
      const flood = Array.from({ length: LINES }, (_, i) => `I (${i}) flood: line ${i} ${'x'.repeat(40)}\n`).join('');
      // Waiting while the lines arrive: each is looked at as it comes, none is missed.
      const done = d.expect(/flood: done$/, { since: start, timeoutMs: 20_000 });
      await agent.print(`${flood}I (9999) flood: done\n`);
      await done;

      expect(d.mark() - start, 'lines received').to.equal(LINES + 1);
      expect(d.lines.length, 'lines held').to.be.at.most(200);
      expect(d.window.bytes, 'bytes held').to.be.at.most(16 * 1024);
      expect(d.window.first, 'first line held').to.equal(d.mark() - d.lines.length);
      expect(d.lines.at(-1)!.text).to.equal('I (9999) flood: done');

      // A search from a mark whose lines were dropped says so, rather than look at fewer lines.
      const lost = await rejection(d.expect(/flood: line 10 /, { since: start, timeoutMs: 1_000 }));
      expect(lost).to.be.instanceOf(WindowError);
      expect(lost.message).to.match(/^the console lines since mark \d+ are no longer all in memory: \d+ of them were dropped \(a device keeps its last 200 lines or 16384 B of console; every line is in the scenario's console log\)/);
      expect(() => d.consoleSince(start)).to.throw(WindowError);
      // One from a mark still in the window works as ever.
      expect((await d.expect(/flood: line 4990 /, { since: d.mark() - 20, timeoutMs: 1_000 })).text).to.match(/^I \(4990\) flood/);
      expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.deep.equal({});

      await d.stopLog();
      const logged = (await readFile(log, 'utf8')).split('\n').filter((l) => / flood: /.test(l));
      expect(logged, 'lines in the console log').to.have.length(LINES + 1);
    });
  });

  describe('a device that prints a line longer than any limit', function () {
    for (const [how, between] of [['right before its reply, with no newline between', ''], ['then a newline, then its reply', '\n']] as const) {
      it(`${how}: the reply arrives, and the cut line is noted and logged`, async function () {
        const d = device = await Device.open(new SerialTransport({ path: agent.path }));
        const log = join(tmp.dir, 'console.log');
        d.startLog(log);
        const noted = new Promise((resolve) => d.once('note', resolve));
        agent.respond = (command, id) => `I (1) chatty: ${'x'.repeat(100_000)}${between}${reply(command, id)}`;
        expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.deep.equal({});
        await noted;
        expect(d.notes.map((n) => n.kind)).to.deep.equal(['overlong_line']);
        expect(d.notes[0]!.message).to.equal('a console line ran over 65536 bytes: only its start is kept, the rest of it was dropped');
        expect(d.lines.at(-1)!.text).to.have.length(65_536);
        await d.stopLog();
        expect(await readFile(log, 'utf8')).to.match(/\] \[hilt\] a console line ran over 65536 bytes/);
      });
    }
  });

  describe('a device at the wrong baud rate', function () {
    it('output without line breaks: the command that gets no reply says so', async function () {
      const d = device = await Device.open(new SerialTransport({ path: agent.path }));
      agent.respond = () => 'U'.repeat(8 * 1024);
      const err = await rejection(d.command('heap.stats', {}, { timeoutMs: 1_000 }));
      expect(err.message).to.equal(`serial ${agent.path} at 115200 baud: no reply to heap.stats within 1000 ms: no line break in the last 8 KiB the device sent: wrong baud rate?`);
    });

    it('noise instead of a hello: opening fails naming the baud rate, not the firmware', async function () {
      agent.respond = () => noise(16 * 1024);
      const err = await rejection(Device.open(new SerialTransport({ path: agent.path }), { helloTimeoutMs: 1_000 }));
      expect(err.message).to.match(new RegExp(`^serial ${agent.path} at 115200 baud: no reply to hello within 1000 ms: \\d+ % of the last \\d+ KiB the device sent is not text: wrong baud rate\\?$`));
    });

    it('noise between commands is noted for the report, once', async function () {
      const d = device = await Device.open(new SerialTransport({ path: agent.path }));
      const noted = new Promise((resolve) => d.once('note', resolve));
      await agent.print(Buffer.concat([noise(32 * 1024), Buffer.from('\n')]));
      await noted;
      // The reply comes after all the noise: every block of it has been judged by then.
      expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.deep.equal({});
      expect(d.notes).to.have.length(1);
      expect(d.notes[0]).to.include({ kind: 'garbled' });
      expect(d.notes[0]!.message).to.match(/^\d+ % of the last \d+ KiB the device sent is not text: wrong baud rate\?$/);
    });

    it('once a reply comes through whole, earlier noise no longer colours errors', async function () {
      const d = device = await Device.open(new SerialTransport({ path: agent.path }));
      agent.respond = (command, id) => Buffer.concat([noise(8 * 1024), Buffer.from(`\n${reply(command, id)}`)]);
      expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.deep.equal({});
      agent.respond = () => '';
      const err = await rejection(d.command('heap.stats', {}, { timeoutMs: 300 }));
      expect(err.message).to.equal(`serial ${agent.path} at 115200 baud: no reply to heap.stats within 300 ms`);
    });
  });
});
