/**
 * An ESP32 on a DevKitC, as the host's USB-serial bridge sees it (a UartPeer): the agent board
 * (board.ts) runs on it, and around it the hardware the bench needs — the auto-reset circuit,
 * the ROM with its serial loader, and a 4 MB flash that keeps its contents across resets.
 *
 * The auto-reset circuit (BENCH.md §1): two transistors between the bridge's DTR/RTS and the
 * chip's EN/GPIO0. EN is pulled low while RTS is asserted and DTR is not; GPIO0 while DTR is
 * asserted and RTS is not; both asserted (what opening a port does) changes nothing. A capacitor
 * on EN makes its rise slow: the chip leaves reset `enDelayMs` after EN is released, and reads
 * GPIO0 only then. esptool's classic sequence (D0|R1|W100|D1|R0|W50|D0) releases EN at D1, one
 * step before R0 pulls GPIO0 low: it reaches download mode only because of that delay. Every
 * change of EN and GPIO0 and every boot decision goes into `trace`.
 */
import { LineSplitter, type Line } from '../../harness/protocol/index.ts';
import { slipEncode, SlipDecoder } from '../../harness/wire/slip.ts';
import { Board, FIRMWARE, type BoardOptions, type FirmwareIdentity } from '../board.ts';
import { romDownloadLines, romFlashBootLines, type ResetReason } from '../console.ts';
import type { UartPeer } from '../uart.ts';
import { agentDescriptor, findBoot, Flash, loadFactoryImage, type FlashBoot } from './flash.ts';
import { SerialLoader } from './loader.ts';

/** EN's rise to the chip's threshold through the DevKitC's 10 kΩ and 1 µF (about 1.4 RC). */
export const EN_RC_DELAY_MS = 14;
/** How often the ROM says `invalid header` before the emulation stops repeating it. */
const INVALID_HEADER_REPEATS = 20;
const INVALID_HEADER_PERIOD_MS = 50;
/** Boot attempts a failing bootloader makes (it resets itself) before the emulation stops. */
const BOOTLOADER_RETRIES = 3;
const TRACE_ENTRIES = 2000;

export type ChipState = 'reset' | 'download' | 'app' | 'no-app';

/** The ROM's choice when the chip leaves reset, and what it read on GPIO0. */
export type BootDecision = Extract<TraceEntry, { kind: 'boot' }>;

export type TraceEntry =
  | { at: number; kind: 'lines'; dtr: boolean; rts: boolean }
  | { at: number; kind: 'pin'; pin: 'EN' | 'GPIO0'; level: 0 | 1 }
  | { at: number; kind: 'boot'; mode: 'flash' | 'download'; reason: ResetReason; gpio0: 0 | 1 }
  | { at: number; kind: 'note'; text: string };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export interface ChipOptions extends Omit<BoardOptions, 'write'> {
  /**
   * GPIO0 held low at power-on, as when BOOT is held while the board is plugged in: the chip
   * starts in download mode. For a board reached without modem lines (a pty, plain TCP).
   */
  bootDownload?: boolean;
  /** The EN capacitor's delay (default EN_RC_DELAY_MS); 0 models a board without it. */
  enDelayMs?: number;
  /** Pace the UART at its baud rate, both ways (10 bits a byte, 8N1). */
  pace?: boolean;
  /** A flash to use (default: a new one with the factory image). */
  flash?: Flash;
}

export class Esp32Chip implements UartPeer {
  readonly board: Board;
  readonly flash: Flash;
  readonly trace: TraceEntry[] = [];
  state: ChipState = 'reset';
  private readonly loader: SerialLoader;
  private readonly outputs: Array<(bytes: Buffer) => void> = [];
  private readonly bootWatchers: Array<(boot: BootDecision) => void> = [];
  private readonly enDelayMs: number;
  private readonly pace: boolean;
  private lines = { dtr: false, rts: false };
  private strap: boolean;
  private en: 0 | 1 = 0;
  private gpio0: 0 | 1 = 1;
  private enTimer: NodeJS.Timeout | null = null;
  private loopTimer: NodeJS.Timeout | null = null;
  private slip = new SlipDecoder();
  private splitter: LineSplitter | null = null;
  private chipBaud = 115_200;
  private hostBaud: number | null = null;
  private txFreeAt = 0;
  private rxFreeAt = 0;
  private readonly pending = new Set<NodeJS.Timeout>();
  private readonly started = performance.now();
  /** Bumped at each reset: work of an earlier run of the chip must not act after it. */
  private epoch = 0;

  constructor(options: ChipOptions = {}) {
    const { bootDownload, enDelayMs, pace, flash, ...boardOptions } = options;
    this.enDelayMs = enDelayMs ?? EN_RC_DELAY_MS;
    this.pace = pace ?? false;
    this.strap = bootDownload ?? false;
    this.board = new Board({
      ...boardOptions,
      write: (text) => { if (this.state === 'app') this.emit(Buffer.from(text)); },
      // esp_restart(): the ROM boots from flash again and says so with the flash's own bootloader.
      romLines: (reason) => {
        const found = findBoot(this.flash);
        return found.ok ? romFlashBootLines(reason, found.bootloader.segments, found.bootloader.entry) : romFlashBootLines(reason);
      },
    });
    this.flash = flash ?? new Flash();
    if (!flash) loadFactoryImage(this.flash, agentDescriptor(FIRMWARE.version, this.board.config.idfVersion));
    this.loader = new SerialLoader({
      flash: this.flash,
      mac: this.board.mac,
      send: (payload) => this.emit(slipEncode(payload)),
      baud: () => this.chipBaud,
      setChipBaud: (baud) => this.setChipBaud(baud),
      runUserCode: () => { void this.run(this.epoch); },
      reboot: () => this.softwareReset(),
      note: (text) => this.note(text),
    });
  }

  /** Power on: the supply ramps with EN, and the chip boots as GPIO0 then says. */
  powerOn(): void {
    this.setGpio0();
    this.setEn(1);
    this.decide('POWERON_RESET');
    // BOOT held at power-on, then let go (a real user does; a pty board has no line to do it).
    if (this.strap) {
      this.strap = false;
      this.setGpio0();
    }
  }

  onOutput(cb: (bytes: Buffer) => void): void {
    this.outputs.push(cb);
  }

  /** Calls `cb` at every boot decision from now on (what `hilt emulate` reports). */
  onBoot(cb: (boot: BootDecision) => void): void {
    this.bootWatchers.push(cb);
  }

  setLines(l: { dtr: boolean; rts: boolean }): void {
    this.lines = { dtr: l.dtr, rts: l.rts };
    this.record({ kind: 'lines', dtr: l.dtr, rts: l.rts });
    this.setGpio0();
    const enLow = l.rts && !l.dtr;
    if (enLow) {
      // The transistor empties the capacitor at once: the chip is in reset now.
      if (this.enTimer) clearTimeout(this.enTimer);
      this.enTimer = null;
      if (this.en === 1) {
        this.setEn(0);
        this.enterReset();
      }
      return;
    }
    if (this.en === 0 && !this.enTimer) {
      // Released: the capacitor charges; the chip comes out of reset when EN crosses the threshold.
      const rise = () => {
        this.enTimer = null;
        this.setEn(1);
        this.decide('POWERON_RESET');
      };
      if (this.enDelayMs === 0) rise();
      else this.enTimer = setTimeout(rise, this.enDelayMs);
    }
  }

  setBaudRate(b: number): void {
    this.hostBaud = b;
    this.note(`host at ${b} baud`);
  }

  purge(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    this.slip.reset();
  }

  input(bytes: Buffer): void {
    if (this.baudMismatch()) bytes = garble(bytes);
    if (!this.pace) return this.receive(bytes);
    const epoch = this.epoch;
    this.later(this.rxFreeAt = this.slot(this.rxFreeAt, bytes.length), () => { if (epoch === this.epoch) this.receive(bytes); });
  }

  /** What the host sees of the chip's EN and GPIO0 right now. */
  get pins(): { en: 0 | 1; gpio0: 0 | 1 } {
    return { en: this.en, gpio0: this.gpio0 };
  }

  /** The requests the serial loader answered, by opcode name. */
  get loaderRequests(): ReadonlyMap<string, number> {
    return this.loader.seen;
  }

  get loaderMode(): 'rom' | 'stub' {
    return this.loader.mode;
  }

  /** The boot decisions so far, oldest first. */
  boots(): BootDecision[] {
    return this.trace.filter((e): e is BootDecision => e.kind === 'boot');
  }

  async close(): Promise<void> {
    this.epoch++;
    if (this.enTimer) clearTimeout(this.enTimer);
    if (this.loopTimer) clearTimeout(this.loopTimer);
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    this.state = 'reset';
    await this.board.shutdown();
  }

  private receive(bytes: Buffer): void {
    if (this.state === 'download') {
      const epoch = this.epoch;
      for (const frame of this.slip.push(bytes)) {
        // A request that left the loader (FLASH_END, RUN_USER_CODE) ends what came with it.
        if (this.state !== 'download' || epoch !== this.epoch) break;
        this.loader.frame(frame);
      }
    } else if (this.state === 'app') {
      this.splitter?.write(bytes);
    }
    // In reset or with no app running, nothing reads the UART.
  }

  /** The host set a line rate and it is not the chip's: each side reads the other as noise. */
  private baudMismatch(): boolean {
    return this.hostBaud !== null && this.hostBaud !== this.chipBaud;
  }

  private emit(bytes: Buffer): void {
    if (this.baudMismatch()) bytes = garble(bytes);
    if (!this.pace) {
      for (const cb of this.outputs) cb(bytes);
      return;
    }
    this.txFreeAt = this.slot(this.txFreeAt, bytes.length);
    const epoch = this.epoch;
    this.later(this.txFreeAt, () => { if (epoch === this.epoch) for (const cb of this.outputs) cb(bytes); });
  }

  /** When `n` bytes starting no earlier than `freeAt` have left the wire, in performance.now() ms. */
  private slot(freeAt: number, n: number): number {
    return Math.max(performance.now(), freeAt) + (n * 10 * 1000) / this.chipBaud;
  }

  private later(at: number, fn: () => void): void {
    const t = setTimeout(() => { this.pending.delete(t); fn(); }, Math.max(0, at - performance.now()));
    this.pending.add(t);
  }

  private text(lines: string[]): void {
    this.emit(Buffer.from(lines.map((l) => `${l}\n`).join('')));
  }

  private setEn(level: 0 | 1): void {
    if (this.en === level) return;
    this.en = level;
    this.record({ kind: 'pin', pin: 'EN', level });
  }

  private setGpio0(): void {
    const level: 0 | 1 = this.strap || (this.lines.dtr && !this.lines.rts) ? 0 : 1;
    if (this.gpio0 === level) return;
    this.gpio0 = level;
    this.record({ kind: 'pin', pin: 'GPIO0', level });
  }

  private enterReset(): void {
    this.epoch++;
    if (this.loopTimer) clearTimeout(this.loopTimer);
    this.loopTimer = null;
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    this.txFreeAt = 0;
    this.rxFreeAt = 0;
    this.state = 'reset';
    this.splitter = null;
    this.loader.reset();
    this.slip.reset();
    this.chipBaud = 115_200;
    void this.board.halt();
  }

  private setChipBaud(baud: number): void {
    this.chipBaud = baud;
    this.note(`UART at ${baud} baud`);
  }

  /** The loader asked to reboot (FLASH_END 0): a system reset, GPIO0 sampled again. */
  private softwareReset(): void {
    this.enterReset();
    this.decide('SW_RESET');
  }

  /** EN is high: the ROM samples GPIO0 and boots. */
  private decide(reason: ResetReason): void {
    const mode = this.gpio0 === 0 ? 'download' : 'flash';
    this.record({ kind: 'boot', mode, reason, gpio0: this.gpio0 });
    const decided = this.trace.at(-1) as BootDecision;
    for (const cb of this.bootWatchers) cb(decided);
    if (mode === 'download') {
      this.state = 'download';
      this.slip = new SlipDecoder();
      this.text(romDownloadLines(reason));
      return;
    }
    void this.flashBoot(reason, this.epoch, 0);
  }

  /** The ROM loads the bootloader, which finds the app and starts it. */
  private async flashBoot(reason: ResetReason, epoch: number, attempt: number): Promise<void> {
    const found = findBoot(this.flash);
    if (!found.ok && found.stage === 'rom') {
      this.state = 'no-app';
      this.text(romFlashBootLines(reason).slice(0, 6));
      this.note(`no bootloader at 0x1000: invalid header 0x${found.header.toString(16).padStart(8, '0')}`);
      let repeats = 0;
      const say = () => {
        if (epoch !== this.epoch) return;
        this.text([`invalid header: 0x${found.header.toString(16).padStart(8, '0')}`]);
        if (++repeats < INVALID_HEADER_REPEATS) this.loopTimer = setTimeout(say, INVALID_HEADER_PERIOD_MS);
      };
      say();
      return;
    }
    this.text(romFlashBootLines(reason, found.bootloader.segments, found.bootloader.entry));
    if (!found.ok) {
      this.state = 'no-app';
      this.text([`I (29) boot: ESP-IDF ${this.board.config.idfVersion} 2nd stage bootloader`, ...found.errors.map((e, i) => `E (${40 + i}) ${e}`)]);
      this.note(`bootloader found no app: ${found.errors.join('; ')}`);
      // ESP-IDF's bootloader resets the chip when it cannot boot; a few rounds show that.
      if (attempt + 1 < BOOTLOADER_RETRIES) {
        this.loopTimer = setTimeout(() => { if (epoch === this.epoch) void this.flashBoot('SW_RESET', epoch, attempt + 1); }, INVALID_HEADER_PERIOD_MS);
      }
      return;
    }
    await this.run(epoch, reason, found);
  }

  /** Starts the app found in flash (also what FLASH_END asking to run does). */
  private async run(epoch: number, reason: ResetReason = 'POWERON_RESET', found: FlashBoot = findBoot(this.flash)): Promise<void> {
    if (epoch !== this.epoch) return;
    if (!found.ok) {
      // Leaving the loader for an empty or broken flash: what a boot from it would show.
      return this.flashBoot(reason, epoch, 0);
    }
    const d = found.app.descriptor;
    const firmware: FirmwareIdentity = {
      project: d.projectName, version: d.version, idf: d.idfVersion, elfSha256: d.elfSha256, compileTime: `${d.date} ${d.time}`,
    };
    this.note(`booting ${firmware.project} ${firmware.version} from 0x${found.app.offset.toString(16)} (${found.app.label})`);
    // The app sets its console UART up again (CONFIG_ESP_CONSOLE_UART_BAUDRATE), whatever the loader ran at.
    if (this.chipBaud !== 115_200) this.setChipBaud(115_200);
    this.state = 'app';
    const splitter = new LineSplitter({ maxLineBytes: 4096 });
    splitter.on('data', (line: Line) => { if (this.splitter === splitter) this.board.input(line); });
    this.splitter = splitter;
    this.board.boot(reason, { rom: false, firmware });
  }

  private note(text: string): void {
    this.record({ kind: 'note', text });
  }

  private record(entry: DistributiveOmit<TraceEntry, 'at'>): void {
    this.trace.push({ ...entry, at: Math.round((performance.now() - this.started) * 10) / 10 } as TraceEntry);
    if (this.trace.length > TRACE_ENTRIES) this.trace.splice(0, this.trace.length - TRACE_ENTRIES);
  }
}

/**
 * What a UART reads from a line driven at another rate: framing errors, bytes that are not
 * the ones sent. A fixed mapping (not a model of the bit timing) onto bytes that are not text,
 * so a host sees what "wrong baud rate" looks like, and a frame never survives it.
 */
function garble(bytes: Buffer): Buffer {
  return Buffer.from(bytes.map((b) => 0x80 | ((b * 0x9d + 0x3b) & 0x7f)));
}
