/** `rfc2217://host:port` targets: parsing, options, and a firmware board's reset through the server's lines. */
import { expect } from 'chai';
import { serveRfc2217Board } from '../../emulator/index.ts';
import { UsageError } from '../../harness/errors.ts';
import { resolveTarget } from '../../harness/device/targets/index.ts';
import { SEQUENCES } from '../../harness/device/reset-sequence.ts';
import { Rfc2217Transport } from '../../harness/transport/rfc2217.ts';

describe('targets: rfc2217', function () {
  it('parses host, port and options into a transport to that server', async function () {
    const target = resolveTarget('rfc2217://127.0.0.1:4000?baud=921600&reset=none&mode=firmware');
    expect(target).to.include({ kind: 'rfc2217', reset: 'hello', mode: 'firmware', description: 'rfc2217 127.0.0.1:4000 at 921600 baud' });
    const transport = await target.transport();
    expect(transport).to.be.instanceOf(Rfc2217Transport);
    expect(transport).to.include({ host: '127.0.0.1', port: 4000, baudRate: 921600, ignoreSetControl: false });
    expect(transport.capabilities).to.deep.equal({ lineControl: true, baudRate: true });
    expect(resolveTarget('rfc2217://[::1]:4000')).to.include({ description: 'rfc2217 [::1]:4000 at 115200 baud', mode: 'agent' });
    expect(resolveTarget('rfc2217://bench-pi.local:4000/')).to.include({ description: 'rfc2217 bench-pi.local:4000 at 115200 baud' });
  });

  it('takes ign_set_control=1, =0, or bare as pyserial writes it', async function () {
    for (const [url, ignored] of [['?ign_set_control=1', true], ['?ign_set_control', true], ['?ign_set_control=0', false], ['', false]] as const) {
      const transport = await resolveTarget(`rfc2217://127.0.0.1:4000${url}`).transport();
      expect((transport as Rfc2217Transport).ignoreSetControl, url).to.equal(ignored);
    }
  });

  const refused: Array<[string, RegExp]> = [
    ['rfc2217:127.0.0.1:4000', /^target rfc2217:127\.0\.0\.1:4000: write rfc2217:\/\/HOST:PORT, e\.g\. rfc2217:\/\/192\.168\.1\.20:4000$/],
    ['rfc2217://127.0.0.1', /^target rfc2217:\/\/127\.0\.0\.1: write rfc2217:\/\/HOST:PORT/],
    ['rfc2217://127.0.0.1:0', /^target rfc2217:\/\/127\.0\.0\.1:0: write rfc2217:\/\/HOST:PORT/],
    ['rfc2217://bench pi:4000', /^target rfc2217:\/\/bench pi:4000: "bench pi" is not a host name or IP address: /],
    ['rfc2217://[bench]:4000', /^target rfc2217:\/\/\[bench\]:4000: "bench" is not an IPv6 address: /],
    ['rfc2217://h:4000?ign_set_control=yes', /^target rfc2217:\/\/h:4000\?ign_set_control=yes: ign_set_control=yes: use ign_set_control=1 \(do not wait for answers to SET-CONTROL, as pyserial\) or ign_set_control=0$/],
    ['rfc2217://h:4000?baud=fast', /^target rfc2217:\/\/h:4000\?baud=fast: baud=fast: give a whole number from 300 to 5000000$/],
    ['rfc2217://h:4000?logging=debug', /^target rfc2217:\/\/h:4000\?logging=debug: unknown option "logging": this kind takes baud, ign_set_control, reset, download, mode$/],
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
      expect((error as Error).message).to.match(message).and.not.include('\n');
    });
  }

  it('takes board control\'s sequences: reset= and download= as on serial, else the bench\'s, else esptool\'s for remote ports', function () {
    // esptool uses its classic sequence on rfc2217 ports (no TIOCMSET over the network).
    expect(resolveTarget('rfc2217://h:4000').resetSequences!()).to.deep.equal({ hard: SEQUENCES.hard, download: [SEQUENCES.classic, SEQUENCES['classic-slow']] });
    const given = resolveTarget('rfc2217://h:4000?reset=R1|W200|R0&download=classic-slow').resetSequences!();
    expect(given.hard.text).to.equal('R1|W200|R0');
    expect(given.download).to.deep.equal([SEQUENCES['classic-slow']]);
    const bench = { hard: SEQUENCES['hard-usb'], download: [SEQUENCES['unix-tight']] };
    expect(resolveTarget('rfc2217://h:4000', { bench }).resetSequences!()).to.deep.equal(bench);
    expect(resolveTarget('rfc2217://h:4000?reset=none')).to.include({ reset: 'hello' });
    expect(() => resolveTarget('rfc2217://h:4000?reset=classic')).to.throw(UsageError, /reset=classic enters download mode: give it as download=classic/);
  });

  it('resets a firmware board with its hard sequence through the server\'s lines: the chip saw EN pulse and booted from flash', async function () {
    const served = await serveRfc2217Board({ index: 22 });
    const target = resolveTarget(`rfc2217://127.0.0.1:${served.port}?mode=firmware`);
    const transport = await target.transport();
    try {
      expect(await target.resetDevice!(), 'not open yet').to.equal(false);
      await transport.open();
      const boots = served.chip.boots().length;
      const mark = served.chip.trace.length;
      expect(await target.resetDevice!()).to.equal(true);
      const pins = served.chip.trace.slice(mark).filter((e) => e.kind === 'pin' && e.pin === 'EN');
      expect(pins.map((e) => (e as { level: number }).level)).to.deep.equal([0, 1]);
      expect(served.chip.boots().slice(boots).map((b) => b.mode)).to.deep.equal(['flash']);
      expect(resolveTarget(`rfc2217://127.0.0.1:${served.port}?mode=firmware&reset=none`).resetDevice).to.equal(undefined);
      expect(resolveTarget(`rfc2217://127.0.0.1:${served.port}`).resetDevice).to.equal(undefined);
    } finally {
      await transport.close();
      await served.close();
    }
  });
});
