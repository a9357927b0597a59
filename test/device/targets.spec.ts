/** Targets by URL-like strings, through the registry. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { KINDS, resolveTarget } from '../../harness/device/targets/index.ts';
import { SerialTransport } from '../../harness/transport/serial.ts';
import { rejection, tempDir } from '../helpers.ts';
import { hasSocat, ptyPair } from '../transport/peers.ts';

describe('targets', function () {
  it('knows emulator, serial, tcp, rfc2217, qemu and native', function () {
    expect(KINDS.map((k) => k.kind)).to.deep.equal(['emulator', 'serial', 'tcp', 'rfc2217', 'qemu', 'native']);
  });

  it('parses each kind with its options', function () {
    expect(resolveTarget('emulator')).to.include({ kind: 'emulator', reset: 'agent' });
    const serial = resolveTarget('serial:/dev/ttyUSB0?baud=921600&reset=none');
    expect(serial).to.include({ kind: 'serial', reset: 'hello', description: 'serial /dev/ttyUSB0 at 921600 baud' });
    expect(resolveTarget('serial:/dev/ttyACM0')).to.include({ description: 'serial /dev/ttyACM0 at 115200 baud' });
    expect(resolveTarget('tcp:127.0.0.1:5555')).to.include({ kind: 'tcp', description: 'tcp 127.0.0.1:5555' });
    expect(resolveTarget('tcp:[::1]:5555')).to.include({ description: 'tcp ::1:5555' });
  });

  it('takes mode=agent|firmware on every kind; firmware=app implies firmware mode', function () {
    expect(resolveTarget('emulator')).to.include({ mode: 'agent' });
    expect(resolveTarget('serial:/dev/ttyUSB0')).to.include({ mode: 'agent' });
    expect(resolveTarget('serial:/dev/ttyUSB0?mode=firmware')).to.include({ mode: 'firmware' });
    expect(resolveTarget('tcp:127.0.0.1:5555?mode=firmware')).to.include({ mode: 'firmware' });
    expect(resolveTarget('tcp:127.0.0.1:5555?mode=agent')).to.include({ mode: 'agent' });
    const app = resolveTarget('emulator:?firmware=app');
    expect(app).to.include({ kind: 'emulator', mode: 'firmware' });
    expect(app.provision).to.be.a('function');
    expect(app.resetDevice).to.be.a('function');
    expect(resolveTarget('emulator:?mode=firmware')).to.include({ mode: 'firmware' });
  });

  it('gives a firmware board on a serial port an RTS reset, unless reset=none; agent targets and tcp have none', function () {
    expect(resolveTarget('serial:/dev/ttyUSB0?mode=firmware').resetDevice).to.be.a('function');
    expect(resolveTarget('serial:/dev/ttyUSB0?mode=firmware&reset=none').resetDevice).to.equal(undefined);
    expect(resolveTarget('serial:/dev/ttyUSB0').resetDevice).to.equal(undefined);
    expect(resolveTarget('tcp:127.0.0.1:5555?mode=firmware').resetDevice).to.equal(undefined);
    expect(resolveTarget('emulator').resetDevice).to.equal(undefined);
  });

  describe('a firmware board on a pseudo-terminal', function () {
    before(function () {
      if (!hasSocat) this.skip();
    });

    it('gets no RTS pulse: resetDevice says it cannot, touching no modem line, and the port stays open', async function () {
      const pair = await ptyPair();
      const target = resolveTarget(`serial:${pair.a}?mode=firmware`);
      const transport = await target.transport();
      const peer = new SerialTransport({ path: pair.b });
      try {
        await transport.open();
        await peer.open();
        const received: Buffer[] = [];
        peer.on('data', (b: Buffer) => received.push(b));
        expect(await target.resetDevice!()).to.equal(false);
        // setSignals itself refuses before any ioctl (which would fail with ENOTTY on a pty).
        const err = await rejection((transport as SerialTransport).setSignals({ dtr: false, rts: true }));
        expect(err.name).to.equal('TransportError');
        expect(err.message).to.equal(`${pair.a} has no modem lines (a pseudo-terminal): DTR/RTS cannot be set; use reset=none for a board reached this way`);
        expect(transport.isOpen).to.equal(true);
        // Still a working port, and nothing but this was written to the board.
        await transport.write('ping\n');
        await new Promise<void>((resolve) => peer.once('data', () => resolve()));
        expect(Buffer.concat(received).toString()).to.equal('ping\n');
      } finally {
        await transport.close();
        await peer.close();
        await pair.release();
      }
    });
  });

  const refused: Array<[string, RegExp]> = [
    ['emulator:?mode=both', /^target emulator:\?mode=both: mode=both: use mode=agent \(the device runs hilt's test agent\) or mode=firmware \(its own application\)$/],
    ['serial:/dev/ttyUSB0?mode=', /^target serial:\/dev\/ttyUSB0\?mode=: mode=: use mode=agent /],
    ['tcp:127.0.0.1:5555?mode=FIRMWARE', /^target tcp:127\.0\.0\.1:5555\?mode=FIRMWARE: mode=FIRMWARE: use mode=agent /],
    ['emulator:?firmware=agent', /^target emulator:\?firmware=agent: firmware=agent: the emulator has one application firmware: firmware=app$/],
    ['emulator:?firmware=app&mode=agent', /^target emulator:\?firmware=app&mode=agent: firmware=app runs the board's own application: drop mode=agent$/],
    ['emulator:?firmware=app&sdkconfig=x', /^target emulator:\?firmware=app&sdkconfig=x: sdkconfig is an option of the agent emulator: firmware=app takes settings=FILE/],
    ['emulator:?settings=app.json', /^target emulator:\?settings=app\.json: settings=FILE is for the application firmware: add firmware=app$/],
    ['emulator:?defect=stack-overflow', /^target emulator:\?defect=stack-overflow: defect=NAME is for the application firmware: add firmware=app$/],
    ['emulator:?firmware=app&defect=stack-overflow,no-tls', /^target emulator:\?firmware=app&defect=stack-overflow,no-tls: defect=stack-overflow,no-tls: "no-tls" is not a defect of the app; known: no-verify, .*, stack-overflow$/],
    ['emulator:?firmware=app&defect=', /^target emulator:\?firmware=app&defect=: defect=: "" is not a defect of the app; known: /],
    ['emulator:?firmware=app&settings=/nonexistent/app.json', /^target emulator:\?firmware=app&settings=\/nonexistent\/app\.json: settings file "\/nonexistent\/app\.json" cannot be read \(ENOENT\): give a JSON file of app settings$/],
    ['jtag:build', /^target jtag:build: unknown kind "jtag": use one of emulator, serial, tcp, rfc2217, qemu/],
    ['serial:ttyUSB0', /^target serial:ttyUSB0: give the port's path, e\.g\. serial:\/dev\/ttyUSB0, or its identity, e\.g\. serial:\?serial_number=0001$/],
    ['serial:/dev/ttyUSB0?baud=fast', /^target serial:\/dev\/ttyUSB0\?baud=fast: baud=fast: give a whole number/],
    ['serial:/dev/ttyUSB0?parity=even', /^target .*: unknown option "parity": this kind takes baud, reset, download, mode, serial_number, vid, pid, location$/],
    ['tcp:localhost', /^target tcp:localhost: write tcp:HOST:PORT/],
    ['tcp:localhost:70000', /^target tcp:localhost:70000: write tcp:HOST:PORT/],
    ['emulator:?sdkconfig=/nonexistent/sdkconfig', /^target emulator:\?sdkconfig=\/nonexistent\/sdkconfig: sdkconfig \/nonexistent\/sdkconfig cannot be read \(ENOENT\): give the sdkconfig file of your firmware's build$/],
    ['emulator:?sdkconfig=/dev/zero', /^target emulator:\?sdkconfig=\/dev\/zero: sdkconfig \/dev\/zero is a character device, not a file: give the sdkconfig file of your firmware's build$/],
    ['emulator:?sdkconfig=/tmp', /^target emulator:\?sdkconfig=\/tmp: sdkconfig \/tmp is a folder, not a file/],
    // Found by test/faults/fuzz.spec.ts: each was taken, or refused in a message broken over lines.
    ['serial:\n/dev/ttyUSB0', /^target "serial:\\n\/dev\/ttyUSB0" has a control character: write the target on one line, e\.g\. serial:\/dev\/ttyUSB0$/],
    ['serial:/dev/tty\u0000USB0', /^target "serial:\/dev\/tty\\u0000USB0" has a control character: /],
    ['serial:/dev/tty\x7fUSB0', /^target "serial:\/dev\/tty\\u007fUSB0" has a control character: /],
    ['emulator:?realtime=yes', /^target emulator:\?realtime=yes: realtime=yes: use realtime=1 \(as slow as the modelled ESP32\) or realtime=0$/],
    ['serial:/dev/ttyUSB0?baud=9600&baud=115200', /^target serial:\/dev\/ttyUSB0\?baud=9600&baud=115200: baud given twice: give each option once$/],
    ['tcp:bench local:5555', /^target tcp:bench local:5555: "bench local" is not a host name or IP address: write tcp:HOST:PORT, e\.g\. tcp:127\.0\.0\.1:5555$/],
    ['tcp:[bench]:5555', /^target tcp:\[bench\]:5555: "bench" is not an IPv6 address: brackets are for IPv6 only, e\.g\. tcp:\[::1\]:5555$/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url} in one line`, function () {
      let error: unknown;
      try {
        resolveTarget(url);
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.match(message);
    });
  }

  describe('an sdkconfig that is no sdkconfig', function () {
    let dir: string;
    let remove: () => Promise<void>;
    before(async function () {
      ({ dir, remove } = await tempDir());
    });
    after(() => remove());

    it('a file over 1 MiB is refused before it is read, in one line', async function () {
      const path = join(dir, 'huge');
      await writeFile(path, '');
      await truncate(path, 3 * 1024 * 1024 * 1024);
      expect(() => resolveTarget(`emulator:?sdkconfig=${path}`)).to.throw(UsageError,
        /^target emulator:\?sdkconfig=.*: sdkconfig .*huge is 3221225472 bytes, over the 1048576-byte limit for an sdkconfig: give the sdkconfig file of your firmware's build$/);
    });

    it('an app settings file that is not a JSON object is refused in one line', async function () {
      const path = join(dir, 'app.json');
      await writeFile(path, '[1, 2]');
      expect(() => resolveTarget(`emulator:?firmware=app&settings=${path}`)).to.throw(UsageError, /^target emulator:\?firmware=app&settings=.*app\.json: settings file ".*app\.json" is not a JSON object \(not a JSON object\): fix the file$/);
      await writeFile(path, '{"timeScale": ');
      expect(() => resolveTarget(`emulator:?firmware=app&settings=${path}`)).to.throw(UsageError, /is not a JSON object \(.*JSON.*\): fix the file$/);
      const fifo = join(dir, 'app-fifo');
      execFileSync('mkfifo', [fifo]);
      expect(() => resolveTarget(`emulator:?firmware=app&settings=${fifo}`)).to.throw(UsageError, /settings file ".*app-fifo" is not a regular file: give a JSON file of app settings$/);
    });

    it('an app settings file is checked when the target is read: unknown or bad settings in one line; good ones taken', async function () {
      const path = join(dir, 'overrides.json');
      await writeFile(path, JSON.stringify({ reconnect: { policy: 'backoff-jitter', baseMs: 100 }, defects: ['no-jitter'], timeScale: 0.1 }));
      expect(resolveTarget(`emulator:?firmware=app&settings=${path}`)).to.include({ mode: 'firmware' });
      await writeFile(path, JSON.stringify({ defects: ['no-tls'] }));
      expect(() => resolveTarget(`emulator:?firmware=app&settings=${path}`)).to.throw(UsageError, /^target emulator:\?firmware=app&settings=.*overrides\.json: settings file .*overrides\.json: defects: "no-tls" is not a defect; known: /);
      await writeFile(path, JSON.stringify({ keepalive: 60 }));
      expect(() => resolveTarget(`emulator:?firmware=app&settings=${path}`)).to.throw(UsageError, /: keepalive: unknown setting; known: /);
    });

    it('a named pipe is refused without opening it (which would wait for a writer)', function () {
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      expect(() => resolveTarget(`emulator:?sdkconfig=${path}`)).to.throw(UsageError, /sdkconfig .*fifo is a named pipe, not a file/);
    });
  });
});
