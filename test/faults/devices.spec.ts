/**
 * Devices that misbehave, over a real pseudo-terminal (the fault device, fault-device.ts): one
 * that floods the console, one that prints lines longer than any limit, one at the wrong baud
 * rate. What hilt must do: hold a bounded window of lines in memory, never lose a reply behind an
 * over-long line, note what a report should mention, and name a wrong baud rate as such.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Device, WindowError } from '../../harness/device/device.ts';
import { SerialTransport } from '../../harness/transport/index.ts';
import { rejection, tempDir } from '../helpers.ts';
import { FaultDevice, hasSocat, SOCAT_MISSING } from './fault-device.ts';

describe('faults: devices that misbehave (real pseudo-terminal)', function () {
  this.timeout(30_000);
  let board: FaultDevice;
  let device: Device | null;
  let tmp: { dir: string; remove: () => Promise<void> };

  before(function () {
    if (!hasSocat) {
      console.log(`    (${SOCAT_MISSING})`);
      this.skip();
    }
  });
  beforeEach(async function () {
    board = await FaultDevice.start();
    tmp = await tempDir();
    device = null;
  });
  afterEach(async function () {
    await device?.close();
    await board.close();
    await tmp.remove();
  });

  const open = (options: Parameters<typeof Device.open>[1] = {}) => Device.open(new SerialTransport({ path: board.path }), options);

  /** The id of the next `command` the board hears. */
  const nextId = async (command: string) => Number(/^@hil (\d+) /.exec(await board.waitHeard(new RegExp(`^@hil \\d+ ${command.replace('.', '\\.')}\\b`)))![1]);

  describe('a device that floods its console', function () {
    it('holds only its window of lines in memory, all of them in the console log, and says so when a mark fell out', async function () {
      const d = device = await open({ window: { maxLines: 200, maxBytes: 16 * 1024 } });
      const log = join(tmp.dir, 'console.log');
      d.startLog(log);
      const start = d.mark();
      const LINES = 5_000;
      // Waiting while the lines arrive: each is looked at as it comes, none is missed.
      const done = d.expect(/flood: done$/, { since: start, timeoutMs: 20_000 });
      await board.say(...Array.from({ length: LINES }, (_, i) => `I (${i}) flood: line ${i} ${'x'.repeat(40)}`), 'I (9999) flood: done');
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
      expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.include({ free: 100_000 });

      await d.stopLog();
      const logged = (await readFile(log, 'utf8')).split('\n').filter((l) => / flood: /.test(l));
      expect(logged, 'lines in the console log').to.have.length(LINES + 1);
    });
  });

  describe('a device that prints a line longer than any limit', function () {
    for (const [how, between] of [['right before its reply, with no newline between', ''], ['then a newline, then its reply', '\r\n']] as const) {
      it(`${how}: the reply arrives, and the cut line is noted and logged`, async function () {
        const d = device = await open();
        const log = join(tmp.dir, 'console.log');
        d.startLog(log);
        board.silent();
        const reply = d.command('heap.stats', {}, { timeoutMs: 5_000 });
        const id = await nextId('heap.stats');
        await board.say(`I (1) chatty: ${'x'.repeat(100_000)}${between}@hil ${id} ok {"free":7,"min_free":7,"largest":7}`);
        expect(await reply).to.include({ free: 7 });
        expect(d.notes.map((n) => n.kind)).to.deep.equal(['overlong_line']);
        expect(d.notes[0]!.message).to.equal('a console line ran over 65536 bytes: only its start is kept, the rest of it was dropped');
        expect(d.lines.at(-1)!.text).to.have.length(65_536);
        await d.stopLog();
        expect(await readFile(log, 'utf8')).to.match(/\] \[hilt\] a console line ran over 65536 bytes/);
      });
    }
  });

  describe('a device at the wrong baud rate', function () {
    it('noise instead of a reply: the command that gets none says what came instead', async function () {
      const d = device = await open();
      board.silent();
      const reply = d.command('heap.stats', {}, { timeoutMs: 1_000 });
      await nextId('heap.stats');
      await board.garbage(8 * 1024);
      const err = await rejection(reply);
      expect(err.message).to.match(new RegExp(`^serial ${board.path} at 115200 baud: no reply to heap.stats within 1000 ms: \\d+ % of the last \\d+ KiB the device sent is not text: wrong baud rate\\?$`));
    });

    it('noise instead of a hello: opening fails naming the baud rate, not the firmware', async function () {
      board.silent();
      const opening = open({ helloTimeoutMs: 1_000 });
      await nextId('hello');
      await board.garbage(16 * 1024);
      const err = await rejection(opening);
      expect(err.message).to.match(new RegExp(`^serial ${board.path} at 115200 baud: no reply to hello within 1000 ms: \\d+ % of the last \\d+ KiB the device sent is not text: wrong baud rate\\?$`));
    });

    it('noise between commands is noted for the report, once', async function () {
      const d = device = await open();
      const noted = new Promise((resolve) => d.once('note', resolve));
      await board.garbage(32 * 1024);
      await board.say('');
      await noted;
      // The reply comes after all the noise: every block of it has been judged by then.
      expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.include({ free: 100_000 });
      expect(d.notes).to.have.length(1);
      expect(d.notes[0]).to.include({ kind: 'garbled' });
      expect(d.notes[0]!.message).to.match(/^\d+ % of the last \d+ KiB the device sent is not text: wrong baud rate\?$/);
    });

    it('once a reply comes through whole, earlier noise no longer colours errors', async function () {
      const d = device = await open();
      await board.garbage(8 * 1024);
      await board.say('');
      expect(await d.command('heap.stats', {}, { timeoutMs: 5_000 })).to.include({ free: 100_000 });
      board.silent();
      const err = await rejection(d.command('heap.stats', {}, { timeoutMs: 300 }));
      expect(err.message).to.equal(`serial ${board.path} at 115200 baud: no reply to heap.stats within 300 ms`);
    });
  });
});
