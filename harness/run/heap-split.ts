/**
 * Where a device's connect runs out of heap, found on the device itself: reserve all but `leave`
 * bytes, connect, see where the device says it stopped, give the heap back; bisect on `leave`.
 * A real board's heap differs from any model (allocator overhead, esp-mqtt's buffers, lwIP), so
 * the low-heap scenarios take their reserves from these answers, not from sizes they assume.
 */
import type { Device } from '../device/device.ts';
import type { ConnectResult } from '../protocol/index.ts';

/** Where one connect stopped, as the device reported it. */
export type HeapStage = 'before-handshake' | 'handshake' | 'connected';

export function stageOf(result: ConnectResult): HeapStage {
  if (result.connected) return 'connected';
  return result.error?.esp_err_name === 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED' ? 'handshake' : 'before-handshake';
}

export interface HeapSplit {
  /** Free heap before the search. */
  free: number;
  /** Most free heap (left after the reserve) with which the device still stopped before its handshake. */
  setupFails: number;
  /** Least free heap with which it got into its handshake. */
  setupPasses: number;
  /** Most free heap with which the handshake still failed (null: none seen, the two bounds met). */
  handshakeFails: number | null;
  /** Least free heap with which it connected. */
  connects: number;
  /** Connects it took. */
  probes: number;
}

export class HeapSplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeapSplitError';
  }
}

/**
 * Bisects `leave` in [0, free] with `probe(leave)` (the device's answer with only `leave` bytes
 * free) until each boundary is known to `precision` bytes. Assumes what every heap does: less
 * free heap never gets a connect further.
 */
export async function bisectHeapSplit(free: number, probe: (leave: number) => Promise<HeapStage>, precision = 512): Promise<HeapSplit> {
  let probes = 0;
  const ask = async (leave: number) => { probes++; return probe(leave); };
  if (await ask(free) !== 'connected') throw new HeapSplitError(`the device does not connect with all its ${free} B free: no heap split to find`);
  // Setup boundary: below lo it stops before the handshake, from hi it gets into it.
  let lo = 0;
  let hi = free;
  // The connect boundary, narrowed by what the first search sees on the way.
  let cLo = 0;
  let cHi = free;
  let handshakeFails: number | null = null;
  while (hi - lo > precision) {
    const mid = Math.floor((lo + hi) / 2);
    const stage = await ask(mid);
    if (stage === 'before-handshake') lo = mid;
    else {
      hi = mid;
      if (stage === 'connected') cHi = Math.min(cHi, mid);
      else {
        cLo = Math.max(cLo, mid);
        handshakeFails = Math.max(handshakeFails ?? 0, mid);
      }
    }
  }
  cLo = Math.max(cLo, lo);
  while (cHi - cLo > precision) {
    const mid = Math.floor((cLo + cHi) / 2);
    const stage = await ask(mid);
    if (stage === 'connected') cHi = mid;
    else {
      cLo = mid;
      if (stage === 'handshake') handshakeFails = Math.max(handshakeFails ?? 0, mid);
    }
  }
  if (lo === 0) throw new HeapSplitError('the device got into its handshake with almost no free heap: its heap.reserve does not seem to take memory');
  return { free, setupFails: lo, setupPasses: hi, handshakeFails, connects: cHi, probes };
}

/**
 * The heap split of `connect` on `device`: each probe reserves all but `leave` bytes, connects,
 * closes what connected, checks the heap came back and releases the reserve.
 */
export async function findHeapSplit(device: Device, connect: () => Promise<ConnectResult>, precision = 512): Promise<HeapSplit> {
  await device.command('heap.release');
  const { free } = await device.command('heap.stats');
  /** The connect with all the heap free: why there is no split to find, when it failed. */
  let unreserved: ConnectResult | null = null;
  const split = bisectHeapSplit(free, async (leave) => {
    await device.command('heap.reserve', { bytes: free - leave });
    try {
      const result = await connect();
      if (leave === free) unreserved = result;
      if (result.connected) await device.command(result.mqtt ? 'mqtt.disconnect' : 'tls.close');
      return stageOf(result);
    } finally {
      await device.command('heap.release');
      const back = (await device.command('heap.stats')).free;
      if (back !== free) throw new HeapSplitError(`heap did not return to its level during the search: ${free - back} B missing with ${leave} B left free`);
    }
  }, precision);
  try {
    return await split;
  } catch (err) {
    const failed = unreserved as ConnectResult | null;
    if (!(err instanceof HeapSplitError) || !failed || failed.connected || !failed.error) throw err;
    const names = [failed.error.esp_err_name, failed.error.stack_err_name].filter(Boolean).join(', ');
    throw new HeapSplitError(`${err.message}; it failed with ${names}`);
  }
}
