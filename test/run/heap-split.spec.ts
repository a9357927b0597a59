/**
 * The bisection behind ctx.findHeapSplit, over a device whose answers follow fixed thresholds
 * (the real devices, emulator and host agent, are in test/native/heap.spec.ts and the catalogue).
 */
import { expect } from 'chai';
import { bisectHeapSplit, HeapSplitError, type HeapStage } from '../../harness/run/heap-split.ts';
import { rejection } from '../helpers.ts';

/** A device that needs `setup` bytes free to get into its handshake and `connect` to connect. */
const thresholds = (setup: number, connect: number) => {
  const asked: number[] = [];
  const probe = async (leave: number): Promise<HeapStage> => {
    asked.push(leave);
    return leave >= connect ? 'connected' : leave >= setup ? 'handshake' : 'before-handshake';
  };
  return { probe, asked };
};

describe('heap split bisection', function () {
  it('brackets both boundaries to the precision, with the probes on the right sides', async function () {
    const device = thresholds(26_700, 34_100);
    const split = await bisectHeapSplit(147_968, device.probe, 512);
    expect(split.setupFails).to.be.below(26_700);
    expect(split.setupPasses).to.be.at.least(26_700);
    expect(split.setupPasses - split.setupFails).to.be.at.most(512);
    expect(split.handshakeFails).to.be.within(26_700, 34_099);
    expect(split.connects).to.be.at.least(34_100);
    expect(split.connects - split.handshakeFails!).to.be.at.most(512);
    expect(split.probes).to.equal(device.asked.length);
    // About log2(148,000 / 512) per boundary, not a scan.
    expect(split.probes).to.be.at.most(20);
  });

  it('reports no handshake failure when setup and connect need the same heap', async function () {
    const split = await bisectHeapSplit(100_000, thresholds(30_000, 30_000).probe, 512);
    expect(split.handshakeFails).to.equal(null);
    expect(split.connects - split.setupFails).to.be.at.most(512);
  });

  it('keeps a handshake failure the setup search saw, when the connect boundary is already narrow', async function () {
    // Setup needs 40,000 B, a connect 40,300 B: the first search lands in between and that is the only sighting.
    const device = thresholds(40_000, 40_300);
    const split = await bisectHeapSplit(80_000, device.probe, 512);
    // Its first probe below the full heap is 40,000 B: in the handshake; the second search never lands there again.
    expect(device.asked.filter((leave) => leave >= 40_000 && leave < 40_300)).to.deep.equal([40_000]);
    expect(split.handshakeFails).to.equal(40_000);
  });

  it('refuses a device that does not connect with all its heap', async function () {
    const err = await rejection(bisectHeapSplit(20_000, thresholds(26_700, 34_100).probe));
    expect(err).to.be.instanceOf(HeapSplitError);
    expect(err.message).to.match(/does not connect with all its 20000 B free/);
  });

  it('refuses a device whose heap.reserve takes nothing (it connects with nothing left)', async function () {
    const err = await rejection(bisectHeapSplit(100_000, thresholds(0, 0).probe));
    expect(err).to.be.instanceOf(HeapSplitError);
    expect(err.message).to.match(/heap.reserve does not seem to take memory/);
  });
});
