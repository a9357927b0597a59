/**
 * What only a serial port does, on a real pseudo-terminal: one opener at a time, no modem lines
 * on a pty, and errors that tell a bench engineer what to do.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPortMock } from 'serialport';
import {
  explainOpenFailure, findSerialPorts, globSerialPorts, SerialTransport, TransportError, type CloseInfo,
} from '../../harness/transport/index.ts';
import { within } from '../../harness/time.ts';
import { rejection, tempDir } from '../helpers.ts';
import { hasSocat, ptyPair, ptyToStdio } from './peers.ts';

describe('serial transport', function () {
  describe('open failures, as serialport words them', function () {
    const found = { paths: ['/dev/ttyUSB0', '/dev/ttyACM0'], source: 'listed by udev' };
    const CASES: Array<[string, string]> = [
      ['No such file or directory, cannot open /dev/ttyUSB9',
        'serial port /dev/ttyUSB9 does not exist; serial ports found: /dev/ttyUSB0, /dev/ttyACM0 (listed by udev)'],
      ['Error Resource temporarily unavailable Cannot lock port',
        'serial port /dev/ttyUSB9 is in use by another program (Cannot lock port): close it (idf.py monitor, a serial terminal, another hilt run) and try again'],
      ['Permission denied, cannot open /dev/ttyUSB9',
        'no permission to open serial port /dev/ttyUSB9 (EACCES): add your user to the dialout group (sudo usermod -aG dialout $USER, then log in again)'],
      ['Inappropriate ioctl for device setting custom baud rate of 115200',
        '/dev/ttyUSB9 is not a serial port (Inappropriate ioctl for device setting custom baud rate of 115200): give a serial device such as /dev/ttyUSB0'],
      ['Input/output error, cannot open /dev/ttyUSB9',
        'cannot open serial port /dev/ttyUSB9 (Input/output error, cannot open /dev/ttyUSB9): check that the board is connected'],
    ];
    for (const [why, says] of CASES) {
      it(why, function () {
        expect(explainOpenFailure('/dev/ttyUSB9', why, found)).to.equal(says);
      });
    }

    it('a missing port with no ports around says none', function () {
      expect(explainOpenFailure('/dev/ttyUSB9', 'No such file or directory', { paths: [], source: 'looked for /dev/ttyUSB*' }))
        .to.equal('serial port /dev/ttyUSB9 does not exist; serial ports found: none (looked for /dev/ttyUSB*)');
    });

    it('lists ports through udev, or else sysfs, or else from /dev, and says which', async function () {
      const found = await findSerialPorts();
      if (found.source === 'listed by udev') return;
      if (found.source.startsWith('read from /sys/class/tty')) return expect(found.source).to.match(/udevadm, which lists ports properly, is not available/);
      expect(found.source).to.match(/^looked for \/dev\/ttyUSB\*, \/dev\/ttyACM\*, \/dev\/serial\/by-id\/\*; neither udevadm nor sysfs/);
      expect(found.paths).to.deep.equal(await globSerialPorts());
    });

    it('a file that is not a terminal is not a serial port', async function () {
      const tmp = await tempDir();
      try {
        const path = join(tmp.dir, 'not-a-tty');
        await writeFile(path, '');
        const err = await rejection(new SerialTransport({ path }).open());
        expect(err).to.be.instanceOf(TransportError);
        expect(err.message).to.match(new RegExp(`^${path} is not a serial port \\(`));
      } finally {
        await tmp.remove();
      }
    });
  });

  describe('modem lines and line rate, through serialport\'s binding', function () {
    // serialport's mock binding stands in for a USB bridge (a pty has no lines); wrapped to record
    // what reaches the binding: exactly the calls a real bridge's driver would get.
    type Call = { set: Record<string, unknown> } | { update: Record<string, unknown> };
    function recordingBinding(calls: Call[]): typeof SerialPortMock.binding {
      const base = SerialPortMock.binding;
      return {
        ...base,
        list: () => base.list(),
        async open(options: Parameters<typeof base.open>[0]) {
          const port = await base.open(options);
          const set = port.set.bind(port);
          const update = port.update.bind(port);
          port.set = async (o) => { calls.push({ set: { ...o } }); return set(o); };
          port.update = async (o) => { calls.push({ update: { ...o } }); return update(o); };
          return port;
        },
      } as typeof SerialPortMock.binding;
    }

    beforeEach(() => SerialPortMock.binding.createPort('/dev/ttyUSB7'));
    afterEach(() => SerialPortMock.binding.reset());

    it('sets both DTR and RTS in one call per step, and changes the baud rate of the open port', async function () {
      const calls: Call[] = [];
      const transport = new SerialTransport({ path: '/dev/ttyUSB7', binding: recordingBinding(calls) });
      try {
        await transport.open();
        expect(transport.capabilities).to.deep.equal({ lineControl: true, baudRate: true });
        await transport.setSignals({ dtr: false, rts: true });
        await transport.setSignals({ dtr: true, rts: false });
        await transport.setBaudRate(921_600);
        // serialport fills in the lines not given (brk, cts, dsr: released); DTR and RTS are ours.
        const lines = calls.map((c) => ('set' in c ? { set: { dtr: c.set.dtr, rts: c.set.rts } } : c));
        expect(lines).to.deep.equal([{ set: { dtr: false, rts: true } }, { set: { dtr: true, rts: false } }, { update: { baudRate: 921_600 } }]);
        expect(transport.description).to.equal('serial /dev/ttyUSB7 at 921600 baud');
      } finally {
        await transport.close();
      }
    });

    it('refuses both before open and after close, naming the port', async function () {
      const transport = new SerialTransport({ path: '/dev/ttyUSB7', binding: recordingBinding([]) });
      const before = await rejection(transport.setSignals({ dtr: false, rts: false }));
      expect(before).to.be.instanceOf(TransportError);
      expect(before.message).to.equal('serial port /dev/ttyUSB7 is not open: cannot set DTR/RTS on it');
      await transport.open();
      await transport.close();
      expect((await rejection(transport.setBaudRate(9600))).message).to.equal('serial port /dev/ttyUSB7 is not open: cannot change the baud rate of it');
    });
  });

  describe('on a pseudo-terminal', function () {
    before(function () {
      if (!hasSocat) {
        console.log('    (socat is not installed: the pseudo-terminal tests need it; apt-get install socat)');
        this.skip();
      }
    });

    it('a second opener is told the port is in use, and by what to do', async function () {
      const pair = await ptyPair();
      const first = new SerialTransport({ path: pair.a });
      try {
        await first.open();
        const err = await rejection(new SerialTransport({ path: pair.a }).open());
        expect(err).to.be.instanceOf(TransportError);
        expect(err.message).to.equal(`serial port ${pair.a} is in use by another program (Cannot lock port): close it (idf.py monitor, a serial terminal, another hilt run) and try again`);
      } finally {
        await first.close();
        await pair.release();
      }
    });

    it('notices every hang-up, even the ones serialport alone would spin on (bindings-cpp#162)', async function () {
      // Whether the tty reads EIO or end-of-file when socat dies is a race; both must end it.
      for (let round = 0; round < 16; round++) {
        const pair = await ptyPair();
        const transport = new SerialTransport({ path: pair.a });
        try {
          await transport.open();
          const closed = new Promise<CloseInfo | 'timeout'>((resolve) => {
            const timer = setTimeout(() => resolve('timeout'), 3_000);
            transport.once('close', (info) => { clearTimeout(timer); resolve(info); });
          });
          pair.socat.kill('SIGKILL');
          const info = await closed;
          expect(info, `round ${round}`).to.not.equal('timeout');
          expect((info as CloseInfo).expected).to.equal(false);
          expect((info as CloseInfo).reason).to.match(new RegExp(`^serial port ${pair.a} went away \\(`));
        } finally {
          await transport.close();
          await pair.release();
        }
      }
    });

    it('full duplex: reads what the board says while a large write waits for room, and finishes the write', async function () {
      // The board takes input only now and then (socat's stdout read 16 KiB at a time): the 2 MiB
      // write keeps filling the tty's queue and waiting for room, while the board says a line
      // each time. serialport's own binding stopped watching for input while a write waited, and
      // lost the write's wake-up once a read had waited after it (unix-binding.ts).
      const far = await ptyToStdio();
      const transport = new SerialTransport({ path: far.path });
      const board = far.socat.stdout;
      const LINES = 300;
      try {
        await transport.open();
        let said = '';
        let heard: (() => void) | null = null;
        transport.on('data', (chunk: Buffer) => {
          said += chunk.toString('latin1');
          if (said.endsWith('\n')) heard?.();
        });
        const big = Buffer.alloc(4 << 20, 0x41);
        let finished = false;
        const written = transport.write(big).then(() => { finished = true; });
        // The board reads what it was sent a quota at a time (from a 'data' listener that pauses
        // at the quota and puts the rest back), and all of it at the end.
        let taken = 0;
        let quota = 0;
        let tookQuota: (() => void) | null = null;
        board.on('data', (chunk: Buffer) => {
          const kept = Math.min(chunk.length, quota - taken);
          taken += kept;
          if (kept < chunk.length) {
            board.pause();
            board.unshift(chunk.subarray(kept));
          }
          if (taken === big.length || taken === quota) tookQuota?.();
        });
        board.pause();
        const take = async (bytes: number) => {
          quota = bytes === Infinity ? Infinity : taken + bytes;
          const took = new Promise<void>((resolve) => { tookQuota = resolve; });
          board.resume();
          return within(5_000, took);
        };
        for (let line = 0; line < LINES; line++) {
          const got = new Promise<void>((resolve) => { heard = resolve; });
          far.socat.stdin.write(`line ${line}\n`);
          expect(await within(5_000, got), `line ${line}, read while the write waits (${taken} bytes taken)`).to.not.equal('timeout');
          expect(await take(4 * 1024), `4 KiB more of the write, after ${taken} bytes`).to.not.equal('timeout');
        }
        expect(said).to.equal(Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join(''));
        expect(finished, 'no room for 4 MiB until the board reads it all').to.equal(false);

        const all = take(Infinity);
        expect(await within(10_000, written), 'the write, once the board reads').to.not.equal('timeout');
        expect(await all, `every byte (${taken} so far)`).to.not.equal('timeout');
        expect(taken).to.equal(big.length);
      } finally {
        await transport.close();
        await far.release();
      }
    });

    it('has no modem lines to drive (DTR/RTS), found out at open', async function () {
      const pair = await ptyPair();
      const transport = new SerialTransport({ path: pair.a, baudRate: 921_600 });
      try {
        expect(transport.capabilities.lineControl, 'judged by the name before open').to.equal(true);
        await transport.open();
        expect(transport.capabilities.lineControl).to.equal(false);
        expect(transport.description).to.equal(`serial ${pair.a} at 921600 baud`);
        const err = await rejection(transport.setSignals({ dtr: true, rts: true }));
        expect(err).to.be.instanceOf(TransportError);
        expect(err.message).to.equal(`${pair.a} has no modem lines (a pseudo-terminal): DTR/RTS cannot be set; use reset=none for a board reached this way`);
        expect(transport.isOpen).to.equal(true);
      } finally {
        await transport.close();
        await pair.release();
      }
    });

    it('changes its line rate while open, and bytes still pass', async function () {
      const pair = await ptyPair();
      const transport = new SerialTransport({ path: pair.a });
      const peer = new SerialTransport({ path: pair.b });
      try {
        await transport.open();
        await peer.open();
        await transport.setBaudRate(460_800);
        expect(transport.baudRate).to.equal(460_800);
        const got = new Promise<string>((resolve) => peer.once('data', (b: Buffer) => resolve(b.toString())));
        await transport.write('after\n');
        expect(await got).to.equal('after\n');
      } finally {
        await transport.close();
        await peer.close();
        await pair.release();
      }
    });
  });
});
