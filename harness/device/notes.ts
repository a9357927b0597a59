/**
 * The notes a device keeps about its output, for agent and firmware devices alike: output that
 * does not look like text (noted once until clean text comes again), a console line cut at the
 * limit, a board that came back on another port. Each note goes into the console log and out as
 * a 'note' event; the latest MAX_NOTES stay in memory.
 */
import { GarbleWatch, type GarbleLimits } from './garble.ts';

/**
 * Something about the device's output a report should mention though no command failed: a
 * console line cut at the line limit, output that does not look like text (wrong baud rate), or
 * a board that re-enumerated and was found again on another port. Also written into the console log.
 */
export interface DeviceNote {
  kind: 'overlong_line' | 'garbled' | 'reopened';
  message: string;
  at: number;
  /** Console line number (see mark()) when it was noted. */
  line: number;
}

export const MAX_NOTES = 100;

export interface NoteSink {
  /** The console line number a note made now belongs to. */
  lineNumber(): number;
  /** Writes a line into the console log. */
  log(text: string): void;
  /** Tells listeners ('note'). */
  emit(note: DeviceNote): void;
}

export class DeviceNotes {
  readonly list: DeviceNote[] = [];
  readonly garble: GarbleWatch;
  /** A garbled-output note was made and nothing clean came since. */
  private garbledNoted = false;

  constructor(private readonly sink: NoteSink, garbleLimits?: Partial<GarbleLimits>) {
    this.garble = new GarbleWatch(garbleLimits);
  }

  /** Raw bytes as they arrive: output that is not text becomes a note, once. */
  watch(chunk: Buffer): void {
    this.garble.feed(chunk);
    const unprintable = this.garble.unprintable;
    if (unprintable && !this.garbledNoted) {
      this.garbledNoted = true;
      this.add('garbled', unprintable);
    }
  }

  /** Something came through whole (a protocol line): the link is fine, whatever came before. */
  clean(): void {
    this.garble.clear();
    this.garbledNoted = false;
  }

  add(kind: DeviceNote['kind'], message: string): void {
    const note: DeviceNote = { kind, message, at: Date.now(), line: this.sink.lineNumber() };
    this.list.push(note);
    if (this.list.length > MAX_NOTES) this.list.shift();
    this.sink.log(`[hilt] ${message}`);
    this.sink.emit(note);
  }
}
