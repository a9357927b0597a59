/**
 * One conformance suite, every transport: the same promises (transport.ts) held against memory,
 * a child process, TCP and a real pseudo-terminal, each with a live peer at the far end.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { TransportError, type CloseInfo, type Transport } from '../../harness/transport/index.ts';
import { KINDS, type Rig } from './peers.ts';
import { rejection } from '../helpers.ts';

/** Everything the transport says, kept from the moment the test attaches. */
function record(transport: Transport) {
  const chunks: Buffer[] = [];
  const closes: CloseInfo[] = [];
  let wake: (() => void) | null = null;
  transport.on('data', (chunk) => { chunks.push(chunk); wake?.(); });
  transport.on('close', (info) => { closes.push(info); wake?.(); });
  const until = async (done: () => boolean, what: string, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => { clearTimeout(timer); wake = null; resolve(); };
      });
    }
  };
  return {
    chunks,
    closes,
    bytes: () => Buffer.concat(chunks),
    text: () => Buffer.concat(chunks).toString('utf8'),
    untilBytes: (n: number) => until(() => chunks.reduce((sum, c) => sum + c.length, 0) >= n, `${n} bytes`),
    untilText: (pattern: RegExp, ms?: number) => until(() => pattern.test(Buffer.concat(chunks).toString('utf8')), `${pattern}`, ms),
    untilClosed: () => until(() => closes.length > 0, "'close'"),
  };
}

for (const kind of KINDS) {
  describe(`transport conformance: ${kind.label ?? kind.kind}`, function () {
    let rig: Rig | null = null;

    before(function () {
      if (kind.unavailable) {
        console.log(`    (${kind.unavailable}; skipping the ${kind.label ?? kind.kind} transport tests)`);
        this.skip();
      }
    });

    afterEach(async function () {
      if (!rig) return;
      await rig.transport.close();
      await rig.release();
      rig = null;
    });

    const echo = async () => (rig = await kind.echo());

    it('its description names the endpoint', async function () {
      const { transport } = await echo();
      expect(transport.description).to.match(kind.names(rig!));
      expect(transport.kind).to.equal(kind.kind);
    });

    it('opens, then carries bytes both ways unchanged', async function () {
      const { transport } = await echo();
      const seen = record(transport);
      expect(transport.isOpen).to.equal(false);
      await transport.open();
      expect(transport.isOpen).to.equal(true);
      await transport.write('@hil 1 hello\n');
      await seen.untilText(/@hil 1 hello\n/);
      expect(seen.text()).to.equal('@hil 1 hello\n');
      expect(seen.chunks.every((c) => Buffer.isBuffer(c))).to.equal(true);
    });

    it('carries a 64 KiB burst of arbitrary bytes in order', async function () {
      const { transport } = await echo();
      const seen = record(transport);
      await transport.open();
      const burst = randomBytes(64 * 1024);
      await transport.write(burst);
      await seen.untilBytes(burst.length);
      expect(seen.bytes().equals(burst)).to.equal(true);
    });

    it('carries a multi-byte UTF-8 character split across two writes', async function () {
      const { transport } = await echo();
      const seen = record(transport);
      await transport.open();
      const euro = Buffer.from('€', 'utf8');
      expect(euro).to.have.length(3);
      await transport.write(Buffer.concat([Buffer.from('price '), euro.subarray(0, 1)]));
      await transport.write(Buffer.concat([euro.subarray(1), Buffer.from(' 5\n')]));
      await seen.untilText(/5\n$/);
      expect(seen.text()).to.equal('price € 5\n');
    });

    it('refuses to write before open() and after close()', async function () {
      const { transport } = await echo();
      const before = await rejection(transport.write('x'));
      expect(before).to.be.instanceOf(TransportError);
      expect(before.message).to.match(/not open yet/);
      await transport.open();
      await transport.close();
      const after = await rejection(transport.write('x'));
      expect(after).to.be.instanceOf(TransportError);
      expect(after.message).to.include(transport.description).and.match(/closed/);
    });

    it("close() is idempotent and says 'close' (expected) exactly once", async function () {
      const { transport } = await echo();
      const seen = record(transport);
      await transport.open();
      await Promise.all([transport.close(), transport.close()]);
      await transport.close();
      expect(transport.isOpen).to.equal(false);
      expect(seen.closes).to.have.length(1);
      expect(seen.closes[0]!.expected).to.equal(true);
      // Nothing else arrives later either.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen.closes).to.have.length(1);
    });

    it("says 'close' (unexpected, with a reason) when the peer goes away", async function () {
      const { transport } = await echo();
      const seen = record(transport);
      await transport.open();
      await transport.write('ping\n');
      await seen.untilText(/ping\n/);
      await rig!.vanish();
      await seen.untilClosed();
      expect(seen.closes).to.have.length(1);
      expect(seen.closes[0]!.expected).to.equal(false);
      expect(seen.closes[0]!.reason).to.be.a('string').and.not.match(/^\s*$/).and.not.include('\n');
      expect(transport.isOpen).to.equal(false);
      expect(await rejection(transport.write('x'))).to.be.instanceOf(TransportError);
      await transport.close();
      expect(seen.closes).to.have.length(1);
    });

    it('rejects open() on a missing endpoint with a one-line TransportError naming it', async function () {
      const { transport, says } = await kind.missing();
      const seen = record(transport);
      const err = await rejection(transport.open());
      expect(err).to.be.instanceOf(TransportError);
      expect((err as TransportError).exitCode).to.equal(3);
      expect(err.message).to.match(says).and.not.include('\n');
      expect(transport.isOpen).to.equal(false);
      await transport.close();
      expect(seen.closes, "no 'close' without a successful open").to.have.length(0);
    });

    it('opens once: a closed transport stays closed', async function () {
      const { transport } = await echo();
      await transport.open();
      await transport.close();
      const err = await rejection(transport.open());
      expect(err).to.be.instanceOf(TransportError);
      expect(err.message).to.match(/make a new one/);
    });

    it('close() before open() resolves and says nothing', async function () {
      const { transport } = await echo();
      const seen = record(transport);
      await transport.close();
      expect(seen.closes).to.have.length(0);
      expect(await rejection(transport.open())).to.be.instanceOf(TransportError);
    });

    it('does not pile up listeners over many writes', async function () {
      const { transport } = await echo();
      const seen = record(transport);
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      try {
        await transport.open();
        const counts = () => transport.eventNames().map((e) => `${String(e)}:${transport.listenerCount(e)}`).join(',');
        const before = counts();
        await Promise.all(Array.from({ length: 200 }, (_, i) => transport.write(`${i}\n`)));
        await seen.untilText(/199\n/);
        expect(counts()).to.equal(before);
        expect(warnings.map((w) => w.message)).to.deep.equal([]);
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('reaches the emulated ESP32: hello gets its reply', async function () {
      rig = await kind.board();
      const { transport } = rig;
      const seen = record(transport);
      await transport.open();
      // Over stdio the board boots as the process starts: wait for it, as a host would.
      if (kind.kind === 'process') await seen.untilText(/@hil \* boot /, 15_000);
      await transport.write('@hil 1 hello\n');
      await seen.untilText(/@hil 1 ok \{.*\}\r?\n/, 15_000);
      expect(seen.text()).to.match(/@hil 1 ok \{"proto":1,/);
      await rig.vanish();
      await seen.untilClosed();
      expect(seen.closes[0]!.expected).to.equal(false);
    });
  });
}
