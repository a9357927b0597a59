/**
 * The console lines a Device holds in memory: the most recent ones, bounded by count and by
 * bytes of text. Every line also goes to the scenario's console log file (Device.startLog); the
 * window is what expect() and printed() search, so a chatty device costs a bounded amount of
 * memory however long the run.
 *
 * Lines are numbered from 0 for the life of the device. A mark is such a number, so it stays
 * meaningful after older lines are dropped, and a search from a mark can tell that lines after it
 * are gone instead of silently looking at fewer of them.
 */
import { ExitCode, HiltError } from '../errors.ts';

export interface WindowLimits {
  /** Most lines held (default 20,000). */
  maxLines: number;
  /** Most bytes of line text held, UTF-8 (default 4 MiB). */
  maxBytes: number;
}

export const DEFAULT_WINDOW: WindowLimits = { maxLines: 20_000, maxBytes: 4 * 1024 * 1024 };

/** A search whose mark fell out of the window: what it would have looked at is only in the log. */
export class WindowError extends HiltError {
  constructor(readonly mark: number, readonly first: number, readonly limits: WindowLimits) {
    super(`the console lines since mark ${mark} are no longer all in memory: ${first - mark} of them were dropped ` +
      `(a device keeps its last ${limits.maxLines} lines or ${formatBytes(limits.maxBytes)} of console; every line is in the scenario's console log): ` +
      'take the mark closer to what is looked for', ExitCode.failed);
    this.name = 'WindowError';
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} B`;
}

export class LineWindow<T extends { text: string }> {
  readonly limits: WindowLimits;
  private items: T[] = [];
  private sizes: number[] = [];
  /** Index in `items` of the oldest line held; the array is compacted now and then, not per line. */
  private head = 0;
  /** Number of the oldest line held. */
  private firstNo = 0;
  private heldBytes = 0;

  constructor(limits: Partial<WindowLimits> = {}) {
    this.limits = { ...DEFAULT_WINDOW, ...limits };
    const { maxLines, maxBytes } = this.limits;
    if (!(maxLines >= 1) || !(maxBytes >= 1)) throw new RangeError(`window limits must be positive, got ${maxLines} lines, ${maxBytes} bytes`);
  }

  /** Number of the oldest line still held. */
  get first(): number {
    return this.firstNo;
  }

  /** Number the next line will get: a mark for "from now on". */
  get next(): number {
    return this.firstNo + this.items.length - this.head;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Lines dropped so far to stay within the limits. */
  get dropped(): number {
    return this.firstNo;
  }

  push(item: T): void {
    const size = Buffer.byteLength(item.text);
    this.items.push(item);
    this.sizes.push(size);
    this.heldBytes += size;
    // The newest line always stays, even alone over maxBytes: a search must see what just came.
    while (this.items.length - this.head > 1 && (this.items.length - this.head > this.limits.maxLines || this.heldBytes > this.limits.maxBytes)) {
      this.heldBytes -= this.sizes[this.head]!;
      this.head++;
      this.firstNo++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** The line numbered `no`, if held. */
  at(no: number): T | undefined {
    return no >= this.firstNo && no < this.next ? this.items[this.head + no - this.firstNo] : undefined;
  }

  /** Every line from `mark` on; a WindowError if some of them were dropped. */
  since(mark: number): T[] {
    if (mark < this.firstNo) throw new WindowError(mark, this.firstNo, this.limits);
    return this.items.slice(this.head + Math.min(mark, this.next) - this.firstNo);
  }

  /** Every line held, oldest first. */
  held(): T[] {
    return this.items.slice(this.head);
  }
}
