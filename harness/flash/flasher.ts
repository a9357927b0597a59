/**
 * Flashes an ESP-IDF build with esptool-js (Espressif's JavaScript esptool) over any hilt
 * transport, as `idf.py flash` would: reset into the ROM loader, upload the flasher stub, write
 * every region of flasher_args.json with progress, check each by MD5, hard reset, and read the
 * ELF SHA-256 the new image prints at boot.
 */
import { createHash } from 'node:crypto';
import { ESPError, ESPLoader, Transport as EspTransport } from 'esptool-js';
import { BRIDGES, SEQUENCES, enterDownloadMode, hardReset, type ResetSequence } from '../device/reset-sequence.ts';
import { ExitCode, HiltError, brandAcrossCopies, quoted } from '../errors.ts';
import type { Transport } from '../transport/transport.ts';
import { TransportError } from '../transport/transport.ts';
import { flashSizeBytes, type FlashRegion, type IdfBuild } from '../wire/idf-build.ts';
import { elfShaMatches } from '../wire/image.ts';
import { watchBoot } from './boot.ts';
import { TransportSerialPort, type SerialPortInfo } from './web-serial.ts';

/** The ROM loader talks at 115200 after a reset, whatever the data phase used. */
export const ROM_BAUD = 115_200;

/** The board's reset sequences: the target's (its bridge's, the bench's), or esptool's defaults. */
export interface BoardResets {
  hard: ResetSequence;
  /** Tried in turn until the ROM says download mode. */
  download: readonly ResetSequence[];
  /** How long the ROM's boot line may take after a sequence (default 2 s). */
  bootTimeoutMs?: number;
}

/** A USB-UART bridge's: esptool's order on Linux (unix-tight, classic, then each with W550). */
export const DEFAULT_RESETS: BoardResets = { hard: SEQUENCES.hard, download: BRIDGES[0]!.download.map((n) => SEQUENCES[n]) };

/** Flashing went wrong; exit 2 for the build or the choice of board, 3 for the board itself. */
export class FlashError extends HiltError {
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, exitCode, options);
    this.name = 'FlashError';
  }
}
brandAcrossCopies(FlashError, 'FlashError');

export interface FlashProgress {
  index: number;
  count: number;
  region: FlashRegion;
  /** Bytes sent of `total` (compressed bytes when compressing). */
  written: number;
  total: number;
}

export interface FlashRequest {
  /** Opened here when closed; left open afterwards (the caller reads the console or closes it). */
  transport: Transport;
  build: IdfBuild;
  /** USB ids of the port, when known: esptool-js picks the USB-Serial/JTAG reset by them. */
  usb?: SerialPortInfo;
  /** Line rate of the data phase (CHANGE_BAUDRATE); default 460800 where the rate can change. */
  baudRate?: number;
  /** Deflate the data (esptool's default); default true. */
  compress?: boolean;
  /** How to reset the board (hilt's board control plays them; esptool-js's own resets are not used). */
  resets?: BoardResets;
  /** esptool's --before / --after; default the build's, and no_reset where the transport has no lines. */
  before?: string;
  after?: string;
  /** Resets and SYNC rounds before giving up on download mode (esptool's 7). */
  connectAttempts?: number;
  /** How long to wait for the ELF SHA-256 line after the hard reset (default 10 s). */
  confirmTimeoutMs?: number;
  onProgress?: (p: FlashProgress) => void;
  /** esptool-js's own lines ("Chip is ESP32-D0WD-V3 ...", "Writing at 0x..."). */
  onLog?: (line: string) => void;
}

export interface RegionResult {
  offset: number;
  path: string;
  name?: string;
  size: number;
  md5: string;
}

export interface FlashResult {
  chip: string;
  regions: RegionResult[];
  /** From the first SYNC to the last MD5. */
  durationMs: number;
  before: string;
  after: string;
  /** What the board printed after the reset: a prefix of the ELF SHA-256, or null. */
  bootElfSha256: string | null;
  /** The board printed the image's ELF SHA-256 after the reset. */
  confirmed: boolean;
  /** What the user should know (no lines to reset with, no ELF line printed). */
  notes: string[];
}

/** esptool-js's names for chips ("ESP32-S3") in flasher_args.json's spelling ("esp32s3"). */
export function chipKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export async function flashBuild(req: FlashRequest): Promise<FlashResult> {
  const { transport, build } = req;
  checkFits(build);
  // Opened first: whether the port has modem lines is known for sure only then (a pty behind a
  // symlink looks like a serial port by its name).
  if (!transport.isOpen) await transport.open();
  const notes: string[] = [];
  const lines = transport.capabilities.lineControl && typeof transport.setSignals === 'function';
  let before = req.before ?? build.before;
  let after = req.after ?? build.after;
  if (!lines && before !== 'no_reset' && before !== 'no_reset_no_sync') {
    before = 'no_reset';
    notes.push(`${transport.description} has no DTR/RTS lines: the board must already be in download mode (hold BOOT while pressing EN, or hilt emulate --boot download)`);
  }
  if (!lines && after === 'hard_reset') {
    after = 'no_reset';
    notes.push('not reset after flashing (no DTR/RTS lines): press EN to run the new image');
  }
  const baudRate = req.baudRate ?? (transport.capabilities.baudRate ? 460_800 : ROM_BAUD);
  const resets = req.resets ?? DEFAULT_RESETS;

  const port = new TransportSerialPort(transport, req.usb);
  const espTransport = new EspTransport(port as unknown as ConstructorParameters<typeof EspTransport>[0], false);
  // esptool-js prints its trace lines with console.log whether tracing is on or not.
  espTransport.trace = (message: string) => { if (espTransport.tracing) req.onLog?.(message); };
  const said: string[] = [];
  const loader = new ESPLoader({
    transport: espTransport,
    baudrate: baudRate,
    romBaudrate: ROM_BAUD,
    terminal: {
      clean: () => {},
      writeLine: (text: string) => { said.push(text); req.onLog?.(text); },
      write: (text: string) => { said.push(text); req.onLog?.(text); },
    },
  });
  // The ROM answers SPI_FLASH_MD5 with 32 hex characters, the stub with 16 bytes; esptool-js
  // 0.7.0 hex-encodes both, so the ROM's answer comes out as 64 digits of ASCII codes.
  const md5Of = loader.flashMd5sum.bind(loader);
  let flashMd5 = '';
  loader.flashMd5sum = async (addr: number, size: number) => {
    const hex = await md5Of(addr, size);
    const ascii = hex.length === 64 ? Buffer.from(hex, 'hex').toString('latin1') : '';
    flashMd5 = /^[0-9a-f]{32}$/i.test(ascii) ? ascii.toLowerCase() : hex;
    return flashMd5;
  };

  const regions: RegionResult[] = [];
  let current: FlashRegion | null = null;
  let started = 0;
  let chip = '';
  let wrote = false;
  try {
    try {
      // Into download mode by hilt's board control, which reads the ROM's boot line and names
      // every sequence it tried when none worked; esptool-js then only syncs.
      if (lines && before !== 'no_reset' && before !== 'no_reset_no_sync') {
        const sequences = before === 'usb_reset' ? [SEQUENCES['usb-jtag']] : resets.download;
        await enterDownloadMode(transport, sequences, { bootTimeoutMs: resets.bootTimeoutMs ?? 2_000 });
      }
      // loader.main() without its informational register reads, and with the stub optional
      // (flasher_args.json's "stub": false) and the connect attempts bounded by the caller.
      await loader.detectChip('no_reset', req.connectAttempts ?? 7);
      chip = await loader.chip.getChipDescription(loader);
      if (build.stub) await loader.runStub();
      else await loader.flashSpiAttach(0);
      if (baudRate !== ROM_BAUD) await loader.changeBaud();
    } catch (err) {
      throw connectFailure(err, port, before, transport);
    }
    if (chipKey(loader.chip.CHIP_NAME) !== chipKey(build.chip)) {
      await leaveAsItWas(loader, port, lines ? resets : null);
      throw new FlashError(`the build in ${quoted(build.dir)} is for ${build.chip}, but the board on ${transport.description} is an ${chip}: build for it (idf.py set-target ${chipKey(loader.chip.CHIP_NAME)}) or pick the board the build is for`, ExitCode.usage);
    }
    started = Date.now();
    for (const [index, region] of build.regions.entries()) {
      current = region;
      const data = new Uint8Array(region.bytes);
      wrote = true;
      await loader.writeFlash({
        fileArray: [{ data, address: region.offset }],
        // "keep": ESP-IDF wrote the flash settings into the bootloader's header already, and
        // esptool-js 0.7.0 would rewrite that header without fixing its appended SHA-256.
        flashMode: 'keep', flashFreq: 'keep', flashSize: 'keep',
        eraseAll: false,
        compress: req.compress ?? true,
        reportProgress: (_file, written, total) => req.onProgress?.({ index, count: build.regions.length, region, written, total }),
        calculateMD5Hash: (image) => createHash('md5').update(image).digest('hex'),
      });
      regions.push({ offset: region.offset, path: region.path, ...(region.name ? { name: region.name } : {}), size: region.bytes.length, md5: flashMd5 });
    }
  } catch (err) {
    if (err instanceof HiltError) throw err;
    const where = current ? `0x${current.offset.toString(16)} (${current.path})` : 'the start';
    if (err instanceof ESPError && /MD5 of file does not match/.test(err.message)) {
      const fileMd5 = said.map((l) => /File\s+md5: (\S+)/.exec(l)?.[1]).filter(Boolean).pop() ?? '?';
      throw new FlashError(`MD5 mismatch at ${where} on ${transport.description}: file ${fileMd5}, flash ${flashMd5}: the data did not arrive intact or the flash does not hold it; flash again at a lower --baud, and replace the board if it persists`, ExitCode.unreachable);
    }
    throw new FlashError(`flashing ${transport.description} failed at ${where}${wrote ? '' : ' (nothing was written)'}: ${reason(err, port)}`, ExitCode.unreachable, { cause: err });
  }
  const durationMs = Date.now() - started;

  // Back at the ROM's rate before the reset: the boot lines come at 115200.
  if (baudRate !== ROM_BAUD) await port.setBaudRate(ROM_BAUD);
  const boot = watchBoot(transport);
  let bootElfSha256: string | null = null;
  try {
    if (after === 'hard_reset') {
      await espTransport.disconnect();
      // Checks the ROM's boot line says flash boot (a GPIO0 held low would keep it in the loader).
      await hardReset(transport, resets.hard, { bootTimeoutMs: resets.bootTimeoutMs ?? 2_000 });
      bootElfSha256 = await boot.elfSha256(req.confirmTimeoutMs ?? 10_000);
      if (!bootElfSha256) notes.push(`the board printed no "ELF file SHA256" line within ${Math.round((req.confirmTimeoutMs ?? 10_000) / 1000)} s of the reset (a quiet log level hides it)`);
    } else {
      await espTransport.disconnect();
      if (req.after === undefined && lines) notes.push(`not reset after flashing: flasher_args.json says after=${after}`);
    }
  } finally {
    boot.stop();
  }
  const image = build.app.descriptor.elfSha256;
  const confirmed = bootElfSha256 !== null && elfShaMatches(image, bootElfSha256);
  if (bootElfSha256 && !confirmed) {
    throw new FlashError(`the board on ${transport.description} booted ELF SHA-256 ${bootElfSha256} after flashing, not the build's ${image}: another app partition is booting (erase otadata: idf.py erase-otadata) or the app did not flash`, ExitCode.unreachable);
  }
  return { chip, regions, durationMs, before, after, bootElfSha256, confirmed, notes };
}

/** A build larger than the flash it says it has would wrap around or fail half-way: refuse it first. */
function checkFits(build: IdfBuild): void {
  const size = flashSizeBytes(build.flashSize);
  if (size === null) return;
  for (const r of build.regions) {
    if (r.offset + r.bytes.length > size) {
      throw new FlashError(`${quoted(r.path)} at 0x${r.offset.toString(16)} ends past the ${build.flashSize} flash that flasher_args.json gives: fix the partition table or CONFIG_ESPTOOLPY_FLASHSIZE and rebuild`, ExitCode.usage);
    }
  }
}

/** Why the ROM loader never answered; hilt's board control names what it tried itself. */
function connectFailure(err: unknown, port: TransportSerialPort, before: string, transport: Transport): HiltError {
  if (err instanceof HiltError) return err;
  const printed = port.receivedTail().toString('latin1');
  const boot = /boot:(0x[0-9a-fA-F]+)(?: \(([^)]*)\))?/.exec(printed);
  const reset = before === 'no_reset' || before === 'no_reset_no_sync' || !transport.capabilities.lineControl;
  const how = reset ? 'without a reset (the board must already be in download mode)' : 'after the reset into download mode';
  const seen = boot ? `; it printed boot:${boot[1]}${boot[2] ? ` (${boot[2]})` : ''}, not download mode` : '';
  const fix = reset
    ? 'hold BOOT while pressing EN (or start the emulator with --boot download), then flash again'
    : 'the ROM said download mode but did not answer SYNC: check the TX/RX path and the baud rate';
  const why = err instanceof Error && !/Failed to connect/.test(err.message) ? ` (${err.message.replace(/\s+/g, ' ')})` : '';
  return new FlashError(`the board on ${transport.description} did not answer the ROM loader ${how}${seen}${why}: ${fix}`, ExitCode.unreachable, { cause: err });
}

/** After a refusal that wrote nothing: reboot into the app the board had. */
async function leaveAsItWas(loader: ESPLoader, port: TransportSerialPort, resets: BoardResets | null): Promise<void> {
  try {
    await loader.transport.disconnect();
    await port.setBaudRate(ROM_BAUD);
    if (resets) await hardReset(port.transport, resets.hard, { bootTimeoutMs: resets.bootTimeoutMs ?? 2_000 });
  } catch {
    // best effort: the error being reported matters more
  }
}

function reason(err: unknown, port: TransportSerialPort): string {
  if (!port.transport.isOpen) return 'the connection to the board closed';
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}
