/**
 * Data larger than one host line (a PEM bundle, a key) travels as `store.put` parts: the host
 * splits it here, the device puts it back together with a PartAssembler.
 */
import { MAX_PARTS } from './args.ts';
import { encodeCommand, MAX_HOST_LINE, MAX_ID } from './codec.ts';
import { ProtocolError, quote } from './errors.ts';

export type StoreKind = 'ca' | 'cert' | 'key';

/**
 * `data` as base64 chunks of at most maxBase64Chars characters. Each chunk holds a multiple of 3
 * bytes (except the last), so each is valid padded base64 on its own and a device can decode a
 * part as it arrives instead of buffering text.
 */
export function base64Parts(data: Buffer, maxBase64Chars: number): string[] {
  const bytesPerPart = Math.floor(maxBase64Chars / 4) * 3;
  if (bytesPerPart < 3) throw new RangeError(`maxBase64Chars must be at least 4, got ${maxBase64Chars}`);
  const parts: string[] = [];
  for (let at = 0; at < data.length; at += bytesPerPart) parts.push(data.subarray(at, at + bytesPerPart).toString('base64'));
  return parts;
}

/** Bytes a store.put line spends on everything but its data, with room for any id and part=n/n. */
function overhead(slot: string, kind: StoreKind, count: number): number {
  const probe = encodeCommand(MAX_ID, 'store.put', { slot, kind, data: 'AAAA', part: `${count}/${count}` });
  return Buffer.byteLength(probe) - 4;
}

/**
 * The `store.put` lines that send `data` to `slot`, one id from nextId() each. Every line holds
 * the largest chunk that fits MAX_HOST_LINE whatever id it gets (ids are sized at their widest,
 * 10 digits), so the split depends only on the data, not on how far a session has counted.
 */
export function storePutLines(slot: string, kind: StoreKind, data: Buffer, nextId: () => number): string[] {
  if (data.length === 0) throw new ProtocolError(`store.put ${quote(slot)}: no data to send`, 'bad_args');
  if (slot === 'none') throw new ProtocolError(`store.put: slot name 'none' is reserved (ca=none means no CA)`, 'bad_args');
  // More parts can mean a wider part=i/n and so a smaller chunk: settle the count's digits first.
  let count = 1;
  let chars = 0;
  for (;;) {
    chars = Math.floor((MAX_HOST_LINE - overhead(slot, kind, count)) / 4) * 4;
    if (chars < 4) throw new ProtocolError(`store.put: slot name ${quote(slot)} leaves no room for data in a ${MAX_HOST_LINE}-byte line`, 'too_long');
    const needed = Math.ceil(data.length / ((chars / 4) * 3));
    if (String(needed).length <= String(count).length) break;
    count = needed;
  }
  const parts = base64Parts(data, chars);
  if (parts.length > MAX_PARTS) {
    throw new ProtocolError(`store.put ${quote(slot)}: ${data.length} bytes need ${parts.length} parts, more than ${MAX_PARTS}`, 'too_long');
  }
  return parts.map((chunk, i) => encodeCommand(nextId(), 'store.put', { slot, kind, data: chunk, part: `${i + 1}/${parts.length}` }));
}

interface Transfer {
  kind: string;
  count: number;
  /** The part expected next, 1-based. */
  next: number;
  chunks: Buffer[];
  bytes: number;
}

export interface PartResult {
  complete: boolean;
  /** Bytes received so far for this slot (the whole size once complete). */
  bytes: number;
  /** The reassembled data, once complete. */
  data?: Buffer;
}

/**
 * Device side: one transfer per slot in flight. Parts arrive strictly in order; anything else
 * (a gap, a repeat, a kind or count changed midway) is a host bug, refused with bad_args, and the
 * slot's transfer is dropped so the next attempt starts clean from part 1.
 */
export class PartAssembler {
  private readonly transfers = new Map<string, Transfer>();

  add(slot: string, kind: string, index: number, count: number, chunk: Buffer): PartResult {
    if (!Number.isInteger(index) || !Number.isInteger(count) || index < 1 || index > count || count > MAX_PARTS) {
      this.transfers.delete(slot);
      throw new ProtocolError(`part ${index}/${count}: expected i/n with 1 <= i <= n <= ${MAX_PARTS}`, 'bad_args');
    }
    const refuse = (why: string) => {
      this.transfers.delete(slot);
      return new ProtocolError(`slot ${quote(slot)}: ${why}; send the data again from part 1`, 'bad_args');
    };
    let transfer = this.transfers.get(slot);
    if (index === 1) {
      transfer = { kind, count, next: 1, chunks: [], bytes: 0 };
      this.transfers.set(slot, transfer);
    } else if (!transfer) {
      throw refuse(`part ${index}/${count} without a transfer in progress`);
    } else if (kind !== transfer.kind) {
      throw refuse(`kind changed from ${transfer.kind} to ${kind} at part ${index}/${count}`);
    } else if (count !== transfer.count) {
      throw refuse(`part count changed from ${transfer.count} to ${count} at part ${index}`);
    } else if (index !== transfer.next) {
      throw refuse(`part ${index}/${count} out of order, expected part ${transfer.next}/${count}`);
    }
    transfer.chunks.push(chunk);
    transfer.bytes += chunk.length;
    transfer.next++;
    if (index < count) return { complete: false, bytes: transfer.bytes };
    this.transfers.delete(slot);
    return { complete: true, bytes: transfer.bytes, data: Buffer.concat(transfer.chunks, transfer.bytes) };
  }

  /** Drops the transfer in progress for `slot`, or every one (after a reset or store.del). */
  cancel(slot?: string): void {
    if (slot === undefined) this.transfers.clear();
    else this.transfers.delete(slot);
  }

  /** Slots with a transfer in progress. */
  get pending(): string[] {
    return [...this.transfers.keys()];
  }
}
