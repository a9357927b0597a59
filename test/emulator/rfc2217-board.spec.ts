/**
 * The emulated chip behind its RFC 2217 server, reached as a remote bench board is. The download
 * and hard sequences are checked in test/device/reset-sequence-chip.spec.ts; here the one meant
 * for another circuit, and `hilt flash` into `hilt emulate --rfc2217` (the command line's own
 * wiring) end to end: esptool-js flashes, the boot confirms, the next run skips.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { serveRfc2217Board, type TcpBoard } from '../../emulator/index.ts';
import { resetInto, SEQUENCES } from '../../harness/device/reset-sequence.ts';
import { Rfc2217Transport } from '../../harness/transport/rfc2217.ts';
import { HILT_BIN, hilt, tempDir } from '../helpers.ts';
import { writeIdfBuildFixture } from '../esp/idf-build.ts';

describe('emulated chip over RFC 2217', function () {
  this.timeout(60_000);

  describe('through Rfc2217Transport', function () {
    let served: TcpBoard;
    let transport: Rfc2217Transport;
    beforeEach(async function () {
      served = await serveRfc2217Board({ index: 12 });
      transport = new Rfc2217Transport({ host: '127.0.0.1', port: served.port });
      await transport.open();
    });
    afterEach(async function () {
      await transport.close();
      await served.close();
    });

    it('usb-jtag is for a chip\'s own USB-Serial/JTAG: on a DevKitC\'s circuit it ends with EN released and GPIO0 high, a boot from flash', async function () {
      const outcome = await resetInto(transport, 'flash', [SEQUENCES['usb-jtag']]);
      expect(outcome.boot.download).to.equal(false);
      expect(served.chip.boots().at(-1)).to.include({ mode: 'flash', gpio0: 1 });
    });
  });

  it('`hilt flash --target rfc2217://` into `hilt emulate --rfc2217`: three regions MD5-verified, the boot confirms the ELF SHA-256, hilt emulate reports both resets; the next run finds it running and skips', async function () {
    const tmp = await tempDir();
    const child = spawn(process.execPath, [HILT_BIN, 'emulate', '--rfc2217', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const fixture = await writeIdfBuildFixture(join(tmp.dir, 'build'), { payloadBytes: 40_000 });
      const boots: Array<{ mode: string; gpio0: number; reason: string }> = [];
      const board = await new Promise<{ rfc2217: { port: number }; target: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('hilt emulate printed no board line within 15 s')), 15_000);
        createInterface({ input: child.stdout }).on('line', (line) => {
          const o = JSON.parse(line) as { type: string; rfc2217: { port: number }; target: string; mode: string; gpio0: number; reason: string };
          if (o.type === 'board') { clearTimeout(timer); resolve(o); }
          if (o.type === 'boot') boots.push({ mode: o.mode, gpio0: o.gpio0, reason: o.reason });
        });
      });
      expect(board.target).to.equal(`rfc2217://127.0.0.1:${board.rfc2217.port}`);
      const first = await hilt(['flash', '--target', board.target], { cwd: tmp.dir, timeoutMs: 45_000 });
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.match(/3 regions, \d+ bytes in .* each verified by MD5/);
      expect(first.stdout).to.include(`ELF SHA-256 ${fixture.descriptor.elfSha256.slice(0, 9)} (as printed) matches the image`);
      // hilt emulate reported each reset as the chip saw it: into the loader, then out to the app.
      expect(boots.map((b) => `${b.mode}/${b.gpio0}`)).to.include.ordered.members(['download/0', 'flash/1']);
      const second = await hilt(['flash', '--target', board.target], { cwd: tmp.dir, timeoutMs: 45_000 });
      expect(second.code, second.stderr).to.equal(0);
      expect(second.stdout).to.include('the board already runs this image (ELF SHA-256 from its hello)');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await tmp.remove();
    }
  });
});
