/**
 * The lifecycle every transport shares (base.ts), driven through a stand-in endpoint whose open
 * and writes the test controls: the timing cases a real peer cannot be made to hit on demand.
 */
import { expect } from 'chai';
import { BaseTransport } from '../../harness/transport/base.ts';
import { TransportError, type CloseInfo } from '../../harness/transport/index.ts';
import { rejection } from '../helpers.ts';

/** An endpoint that opens and takes writes when the test says so. */
class Stand extends BaseTransport {
  readonly kind = 'memory' as const;
  readonly description = 'stand-in endpoint';
  finishOpen: (() => void) | null = null;
  writes: Array<{ data: Buffer; done: () => void }> = [];
  released = 0;
  autoWrite = true;

  constructor(openTimeoutMs = 1_000, private readonly writeMs = 10_000) {
    super(openTimeoutMs);
  }

  protected doOpen(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.finishOpen = resolve;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  protected doWrite(data: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.autoWrite) resolve();
      else this.writes.push({ data, done: resolve });
    });
  }

  protected async doClose(): Promise<void> {
    this.released++;
  }

  protected openTimeoutMessage(ms: number): string {
    return `stand-in endpoint did not answer within ${ms} ms`;
  }

  protected override writeBoundMs(): number {
    return this.writeMs;
  }

  /** What a subclass does when bytes arrive or the peer vanishes. */
  deliver(text: string): void { this.received(Buffer.from(text)); }
  vanish(reason: string): void { this.lost(reason); }
}

async function opened(stand = new Stand()): Promise<Stand> {
  const opening = stand.open();
  stand.finishOpen!();
  await opening;
  return stand;
}

describe('transport lifecycle', function () {
  it('an open that gets no answer fails after the open timeout, releases, and may be tried again', async function () {
    const stand = new Stand(50);
    const err = await rejection(stand.open());
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.equal('stand-in endpoint did not answer within 50 ms');
    expect(stand.released).to.equal(1);
    expect(stand.isOpen).to.equal(false);
    await opened(stand);
    expect(stand.isOpen).to.equal(true);
  });

  it('open() twice while opening is one open; open() when open resolves at once', async function () {
    const stand = new Stand();
    const first = stand.open();
    const second = stand.open();
    stand.finishOpen!();
    await Promise.all([first, second]);
    await stand.open();
    expect(stand.isOpen).to.equal(true);
  });

  it('close() while opening abandons the open, with no close event', async function () {
    const stand = new Stand();
    const closes: CloseInfo[] = [];
    stand.on('close', (info) => closes.push(info));
    const opening = stand.open();
    await stand.close();
    const err = await rejection(opening);
    expect(err.message).to.equal('stand-in endpoint was closed while opening');
    expect(closes).to.deep.equal([]);
    expect(stand.released).to.equal(1);
  });

  it('a peer that vanishes during open() fails the open', async function () {
    const stand = new Stand();
    const opening = stand.open();
    stand.vanish('the child exited with code 1');
    stand.finishOpen!();
    const err = await rejection(opening);
    expect(err.message).to.equal('stand-in endpoint went away while opening: the child exited with code 1');
    expect(stand.isOpen).to.equal(false);
  });

  it('bytes that arrive while opening are delivered once open, in order', async function () {
    const stand = new Stand();
    const got: string[] = [];
    stand.on('data', (chunk) => got.push(chunk.toString()));
    const opening = stand.open();
    stand.deliver('rst:0x1 ');
    stand.deliver('(POWERON_RESET)');
    expect(got).to.deep.equal([]);
    stand.finishOpen!();
    await opening;
    stand.deliver('\n');
    expect(got).to.deep.equal(['rst:0x1 ', '(POWERON_RESET)', '\n']);
  });

  it('a write the endpoint never takes fails after its bound', async function () {
    const stand = await opened(new Stand(1_000, 50));
    stand.autoWrite = false;
    const err = await rejection(stand.write('@hil 1 hello\n'));
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.equal('stand-in endpoint did not take 13 bytes within 50 ms: the device is not reading (flow control, or a stuck peer)');
  });

  it('writes in flight fail at once when the peer vanishes, and nothing is said after close', async function () {
    const stand = await opened();
    stand.autoWrite = false;
    const got: string[] = [];
    const closes: CloseInfo[] = [];
    stand.on('data', (chunk) => got.push(chunk.toString()));
    stand.on('close', (info) => closes.push(info));
    const pending = stand.write('@hil 2 heap.stats\n');
    stand.vanish('cable\npulled');
    const err = await rejection(pending);
    expect(err.message).to.equal('cannot finish writing to stand-in endpoint: it closed (cable | pulled)');
    stand.deliver('late bytes');
    stand.vanish('again');
    await stand.close();
    expect(got).to.deep.equal([]);
    expect(closes).to.deep.equal([{ expected: false, reason: 'cable | pulled' }]);
    expect(stand.released).to.equal(1);
  });

  it('an empty write resolves without touching the endpoint', async function () {
    const stand = await opened();
    stand.autoWrite = false;
    await stand.write('');
    expect(stand.writes).to.have.length(0);
  });

  it('the peer vanishing during close() does not turn an expected close into a lost one', async function () {
    const stand = await opened();
    const closes: CloseInfo[] = [];
    stand.on('close', (info) => closes.push(info));
    const closing = stand.close();
    stand.vanish('socket reset');
    await closing;
    expect(closes).to.deep.equal([{ expected: true, reason: 'closed by hilt' }]);
  });
});
