/**
 * What RFC 2217 adds to bytes: line settings, DTR/RTS, baud changes and purges, against the
 * emulator's server (whose peer records what it was told) and against ser2net 4 serving a real
 * pseudo-terminal (whose settings stty reads back).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { serveRfc2217, type Rfc2217Server } from '../../emulator/index.ts';
import { Rfc2217Transport, TransportError, type ModemLines } from '../../harness/transport/index.ts';
import { rejection } from '../helpers.ts';
import { hasSocat, loopbackPeer, ptyPair } from './peers.ts';
import { PYSERIAL_CLIENT, pyserialMissing, runPython, startPyserialServer, type PyserialServer } from './pyserial.ts';
import { ser2netMissing, startSer2net, type Ser2net } from './ser2net.ts';

/** A transport's received bytes, awaited as they come. */
function collect(transport: Rfc2217Transport) {
  let text = '';
  let wake: (() => void) | null = null;
  transport.on('data', (chunk) => { text += chunk.toString('latin1'); wake?.(); });
  return async (pattern: RegExp, ms = 5_000) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(text)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => { clearTimeout(timer); wake = null; resolve(); };
      });
    }
    return text;
  };
}

/** A DevKitC holds the chip in reset while RTS is asserted and DTR is not. */
const enLow = (l: ModemLines) => l.rts && !l.dtr;

describe('rfc2217 transport against the emulator\'s server', function () {
  let peer: ReturnType<typeof loopbackPeer>;
  let served: Rfc2217Server;
  let transport: Rfc2217Transport;

  beforeEach(async function () {
    peer = loopbackPeer();
    served = await serveRfc2217({ peer });
    transport = new Rfc2217Transport({ host: '127.0.0.1', port: served.port, baudRate: 230400 });
  });
  afterEach(async function () {
    await transport.close();
    await served.close();
  });

  it('opens at the asked rate, says it can set lines and rates, and leaves the lines as the port opened them', async function () {
    await transport.open();
    expect(peer.bauds).to.deep.equal([230400]);
    expect(transport.capabilities).to.deep.equal({ lineControl: true, baudRate: true });
    // The server raised both lines as a tty open does; open() itself set none.
    expect(peer.lines).to.deep.equal([{ dtr: true, rts: true }]);
    expect(transport.description).to.equal(`rfc2217://127.0.0.1:${served.port} at 230400 baud`);
  });

  it('sets DTR and RTS, each change acknowledged, sending only lines that change', async function () {
    await transport.open();
    await transport.setSignals({ dtr: false, rts: false });
    expect(peer.lines.at(-1)).to.deep.equal({ dtr: false, rts: false });
    const before = peer.lines.length;
    await transport.setSignals({ dtr: false, rts: false });
    expect(peer.lines.length, 'nothing sent for lines already set').to.equal(before);
    await transport.setSignals({ dtr: false, rts: true });
    expect(peer.lines.slice(before)).to.deep.equal([{ dtr: false, rts: true }]);
  });

  it('never passes through EN low on the way between two states that are not a reset', async function () {
    await transport.open();
    await transport.setSignals({ dtr: false, rts: false });
    for (const [from, to] of [
      [{ dtr: false, rts: false }, { dtr: true, rts: true }],
      [{ dtr: true, rts: true }, { dtr: false, rts: false }],
      [{ dtr: true, rts: false }, { dtr: false, rts: false }],
    ] as const) {
      await transport.setSignals(from);
      const mark = peer.lines.length;
      await transport.setSignals(to);
      const path = peer.lines.slice(mark);
      expect(path.at(-1)).to.deep.equal(to);
      expect(path.filter(enLow), `${JSON.stringify(from)} -> ${JSON.stringify(to)}: ${JSON.stringify(path)}`).to.deep.equal([]);
    }
  });

  it('runs the classic download-mode sequence step by step as the board sees it', async function () {
    await transport.open();
    // esptool's classic reset: D0|R1|W100|D1|R0|W50|D0 (the waits are the circuit's, not checked here).
    await transport.setSignals({ dtr: false, rts: true });
    expect(peer.lines.at(-1), 'held in reset').to.deep.equal({ dtr: false, rts: true });
    const mark = peer.lines.length;
    await transport.setSignals({ dtr: true, rts: false });
    // D1 then R0, as esptool does: GPIO0 is pulled low as EN starts to rise.
    expect(peer.lines.slice(mark)).to.deep.equal([{ dtr: true, rts: true }, { dtr: true, rts: false }]);
    await transport.setSignals({ dtr: false, rts: false });
    expect(peer.lines.at(-1)).to.deep.equal({ dtr: false, rts: false });
  });

  it('changes the baud rate and purges, each acknowledged, and data still flows', async function () {
    const seen = collect(transport);
    await transport.open();
    await transport.setBaudRate(921600);
    expect(peer.bauds.at(-1)).to.equal(921600);
    expect(transport.baudRate).to.equal(921600);
    expect(transport.description).to.match(/at 921600 baud$/);
    await transport.purge('receive');
    await transport.purge();
    expect(peer.purges).to.equal(2);
    await transport.write(Buffer.from([0x41, 0xff, 0x42, 0x0a]));
    expect(await seen(/B\n/)).to.equal('A\xffB\n');
  });

  it('keeps concurrent line commands apart: the last call wins', async function () {
    await transport.open();
    await Promise.all([
      transport.setSignals({ dtr: true, rts: false }),
      transport.setBaudRate(460800),
      transport.setSignals({ dtr: false, rts: true }),
    ]);
    expect(peer.lines.at(-1)).to.deep.equal({ dtr: false, rts: true });
    expect(peer.bauds.at(-1)).to.equal(460800);
  });

  it('refuses line commands before open, and a baud rate that is no number of baud', async function () {
    const early = await rejection(transport.setSignals({ dtr: false, rts: false }));
    expect(early).to.be.instanceOf(TransportError);
    expect(early.message).to.match(/^cannot set DTR\/RTS on rfc2217:\/\/127\.0\.0\.1:\d+ at 230400 baud: it is not open$/);
    await transport.open();
    expect((await rejection(transport.setBaudRate(0))).message).to.match(/cannot set 0 baud .*: give a whole number of baud$/);
  });

  it('drops the lines when the client leaves, as closing a serial port does', async function () {
    await transport.open();
    await transport.setSignals({ dtr: true, rts: true });
    await transport.close();
    // The server learns of the close from its socket.
    await peer.untilLines((l) => !l.dtr && !l.rts);
    expect(peer.lines.at(-1)).to.deep.equal({ dtr: false, rts: false });
  });

  it('takes one client at a time, like a serial port; the second is told why it failed', async function () {
    await transport.open();
    const second = new Rfc2217Transport({ host: '127.0.0.1', port: served.port });
    const err = await rejection(second.open());
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.match(/^rfc2217:\/\/127\.0\.0\.1:\d+ closed the connection while opening \(it said "hilt emulator: this board already has a client"\): another client holds the port$/);
    await second.close();
    // The first client is untouched.
    const seen = collect(transport);
    await transport.write('still here\n');
    await seen(/still here\n/);
  });
});

describe('rfc2217 transport against ser2net serving a pseudo-terminal', function () {
  let pair: Awaited<ReturnType<typeof ptyPair>> | null = null;
  let server: Ser2net | null = null;
  let transport: Rfc2217Transport | null = null;

  before(function () {
    const why = ser2netMissing ?? (hasSocat ? null : 'socat is not installed (apt-get install socat)');
    if (why) {
      console.log(`    (${why}; skipping the ser2net tests)`);
      this.skip();
    }
  });
  beforeEach(async function () {
    pair = await ptyPair();
    server = await startSer2net(pair.a, { baud: 115200 });
  });
  afterEach(async function () {
    await transport?.close();
    await server?.stop();
    await pair?.release();
    transport = server = pair = null;
  });

  /** The line settings of the pty ser2net holds open, as the kernel has them. */
  const stty = () => execFileSync('stty', ['-F', pair!.a, '-a'], { encoding: 'utf8' });

  it('sets 8N1 at the asked rate on the device, and changes the rate when asked', async function () {
    transport = new Rfc2217Transport({ host: '127.0.0.1', port: server!.port, baudRate: 57600 });
    await transport.open();
    expect(stty()).to.match(/speed 57600 baud/).and.match(/\bcs8\b/).and.match(/-parenb/).and.match(/-cstopb/);
    await transport.setBaudRate(921600);
    expect(stty()).to.match(/speed 921600 baud/);
    await transport.purge('both');
  });

  it('takes one client; a second is refused, with what ser2net said when it arrived', async function () {
    transport = new Rfc2217Transport({ host: '127.0.0.1', port: server!.port });
    await transport.open();
    const second = new Rfc2217Transport({ host: '127.0.0.1', port: server!.port });
    const err = await rejection(second.open());
    await second.close();
    expect(err).to.be.instanceOf(TransportError);
    // ser2net writes "Port already in use" and closes with hilt's negotiation unread: the reset
    // that follows may discard the text before it is read, and then the message can only guess.
    expect(err.message).to.match(
      /^rfc2217:\/\/127\.0\.0\.1:\d+ closed the connection while opening( \(it said "Port already in use"\): another client holds the port|: is it an RFC 2217 server, and is another client connected\?)$/,
    );
  });

  it('gets no answer to SET-CONTROL on a pty: a bounded, named failure, and ign_set_control goes on', async function () {
    transport = new Rfc2217Transport({ host: '127.0.0.1', port: server!.port, ackTimeoutMs: 1_500 });
    await transport.open();
    const err = await rejection(transport.setSignals({ dtr: false, rts: true }));
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.match(
      /^rfc2217:\/\/127\.0\.0\.1:\d+ did not answer SET-CONTROL \(RTS on\) within 1500 ms: the server cannot set that line .*add \?ign_set_control=1 to go on without answers$/,
    );
    await transport.close();

    transport = new Rfc2217Transport({ host: '127.0.0.1', port: server!.port, ignoreSetControl: true });
    await transport.open();
    await transport.setSignals({ dtr: false, rts: true });
    await transport.setSignals({ dtr: false, rts: false });
    // The connection is in step after the unanswered commands: a baud change is still answered.
    await transport.setBaudRate(230400);
    expect(stty()).to.match(/speed 230400 baud/);
  });
});

describe("rfc2217 with pyserial, esptool's RFC 2217 implementation", function () {
  before(function () {
    if (pyserialMissing) {
      console.log(`    (${pyserialMissing}; skipping the pyserial tests)`);
      this.skip();
    }
  });

  it("pyserial's client drives the emulator's server: rates, the classic reset's steps, a purge, bytes", async function () {
    const peer = loopbackPeer();
    const served = await serveRfc2217({ peer });
    try {
      const ran = await runPython(PYSERIAL_CLIENT, [`rfc2217://127.0.0.1:${served.port}`]);
      expect(ran.stderr).to.equal('');
      expect(ran.code).to.equal(0);
      expect(ran.stdout.trim()).to.equal("b'A\\xffB\\n'");
      expect(peer.bauds).to.deep.equal([921600, 460800]);
      expect(peer.purges).to.be.at.least(1);
      // Connect raises both; pyserial's open sets DTR then RTS (both on); then the steps.
      expect(peer.lines.slice(0, 8)).to.deep.equal([
        { dtr: true, rts: true }, { dtr: true, rts: true }, { dtr: true, rts: true },
        { dtr: false, rts: true }, { dtr: false, rts: true }, { dtr: true, rts: true }, { dtr: true, rts: false }, { dtr: false, rts: false },
      ]);
    } finally {
      await served.close();
    }
  });

  describe("hilt's client against pyserial's server (PortManager over loop://)", function () {
    let server: PyserialServer;
    let transport: Rfc2217Transport;
    beforeEach(async function () {
      server = await startPyserialServer();
      transport = new Rfc2217Transport({ host: '127.0.0.1', port: server.port, baudRate: 230400 });
    });
    afterEach(async function () {
      await transport.close();
      await server.stop();
    });

    it('opens, sets lines and rates with every answer checked, purges, and carries bytes', async function () {
      const seen = collect(transport);
      await transport.open();
      await server.until('1 1 230400');
      await transport.setSignals({ dtr: false, rts: true });
      await server.until('0 1 230400');
      await transport.setSignals({ dtr: true, rts: false });
      await server.until('1 0 230400');
      await transport.setBaudRate(921600);
      await server.until('1 0 921600');
      await transport.purge('both');
      await transport.write(Buffer.from([0x41, 0xff, 0xff, 0x42, 0x0a]));
      expect(await seen(/B\n/)).to.equal('A\xff\xffB\n');
    });
  });
});
