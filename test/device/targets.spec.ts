/** Targets by URL-like strings, through the registry. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { KINDS, resolveTarget } from '../../harness/device/targets/index.ts';
import { tempDir } from '../helpers.ts';

describe('targets', function () {
  it('knows emulator, serial and tcp', function () {
    expect(KINDS.map((k) => k.kind)).to.deep.equal(['emulator', 'serial', 'tcp']);
  });

  it('parses each kind with its options', function () {
    expect(resolveTarget('emulator')).to.include({ kind: 'emulator', reset: 'agent' });
    const serial = resolveTarget('serial:/dev/ttyUSB0?baud=921600&reset=none');
    expect(serial).to.include({ kind: 'serial', reset: 'hello', description: 'serial /dev/ttyUSB0 at 921600 baud' });
    expect(resolveTarget('serial:/dev/ttyACM0')).to.include({ description: 'serial /dev/ttyACM0 at 115200 baud' });
    expect(resolveTarget('tcp:127.0.0.1:5555')).to.include({ kind: 'tcp', description: 'tcp 127.0.0.1:5555' });
    expect(resolveTarget('tcp:[::1]:5555')).to.include({ description: 'tcp ::1:5555' });
  });

  const refused: Array<[string, RegExp]> = [
    ['qemu:build', /^unknown target kind "qemu" in --target qemu:build: use one of emulator, serial, tcp/],
    ['serial:ttyUSB0', /^target serial:ttyUSB0: give the port's path, e\.g\. serial:\/dev\/ttyUSB0$/],
    ['serial:/dev/ttyUSB0?baud=fast', /^target serial:\/dev\/ttyUSB0\?baud=fast: baud=fast: give a whole number/],
    ['serial:/dev/ttyUSB0?parity=even', /^target .*: unknown option "parity": this kind takes baud, reset$/],
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

    it('a named pipe is refused without opening it (which would wait for a writer)', function () {
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      expect(() => resolveTarget(`emulator:?sdkconfig=${path}`)).to.throw(UsageError, /sdkconfig .*fifo is a named pipe, not a file/);
    });
  });
});
