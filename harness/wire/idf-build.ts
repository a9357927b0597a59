/**
 * An ESP-IDF build folder, read the way `idf.py flash` reads it: flasher_args.json (written from
 * components/esptool_py/flasher_args.json.in) names every region's offset and file, the flash
 * settings and esptool's extra arguments. Everything here is checked before a board is touched,
 * so a bad build is one line and exit 2, never a half-flashed board.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageFormatError, readAppImage, type AppDescriptor } from './image.ts';

export const FLASHER_ARGS = 'flasher_args.json';

export interface FlashRegion {
  offset: number;
  /** Relative to the build folder, as flasher_args.json spells it. */
  path: string;
  /** The entry naming this file (bootloader, app, partition-table, otadata), when there is one. */
  name?: string;
  bytes: Buffer;
}

export interface IdfBuild {
  dir: string;
  chip: string;
  flashMode: string;
  flashSize: string;
  flashFreq: string;
  /** esptool's --before / --after, with '-' spelled '_' (default_reset, hard_reset, no_reset...). */
  before: string;
  after: string;
  /** Whether esptool would upload its flasher stub (flasher_args.json's "stub", true when absent). */
  stub: boolean;
  /** In offset order. */
  regions: FlashRegion[];
  app: { offset: number; path: string; descriptor: AppDescriptor };
}

/**
 * The build folder cannot be used as it is; the message (one line) names the file and the fix.
 * Plain Error, as harness/wire imports nothing of the harness: commands and targets turn it into
 * their usage error (exit 2).
 */
export class IdfBuildError extends Error {
  /** The exit status a command should end with: the user's to fix. */
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'IdfBuildError';
  }
}

export function readIdfBuild(dir: string): IdfBuild {
  const root = resolve(dir);
  const argsPath = join(root, FLASHER_ARGS);
  const kind = fileKind(root);
  if (kind !== 'dir') {
    throw new IdfBuildError(`build folder ${quoted(root)} ${kind === 'missing' ? 'does not exist' : 'is not a folder'}: pass the ESP-IDF build folder (the one holding ${FLASHER_ARGS}, usually ./build)`);
  }
  if (fileKind(argsPath) !== 'file') {
    throw new IdfBuildError(`${quoted(root)} is not an ESP-IDF build: it has no ${FLASHER_ARGS} (run idf.py build and pass its build folder)`);
  }
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(readFileSync(argsPath, 'utf8'));
    if (!isObject(parsed)) throw new Error('it is not a JSON object');
    args = parsed;
  } catch (err) {
    throw new IdfBuildError(`${quoted(argsPath)} is not valid JSON (${oneLine(err)}): rebuild with idf.py build`);
  }
  const bad = (what: string, fix = 'rebuild with idf.py build'): never => {
    throw new IdfBuildError(`${quoted(argsPath)}: ${what}; ${fix}`);
  };

  const files = args.flash_files;
  if (!isObject(files) || Object.keys(files).length === 0) bad('"flash_files" is missing or empty');
  const names = new Map<string, string>();
  for (const [name, entry] of Object.entries(args)) {
    if (isObject(entry) && typeof entry.file === 'string' && typeof entry.offset === 'string') {
      names.set(`${parseOffset(entry.offset) ?? entry.offset}:${entry.file}`, name);
      if (String(entry.encrypted) === 'true') bad(`"${name}" is marked encrypted`, 'hilt flashes plain images only: build the bench firmware without flash encryption');
    }
  }
  const regions: FlashRegion[] = [];
  for (const [offsetText, file] of Object.entries(files as Record<string, unknown>)) {
    const offset = parseOffset(offsetText);
    if (offset === null) bad(`flash_files offset ${quoted(offsetText)} is not a number like "0x10000"`);
    if (typeof file !== 'string' || file === '') bad(`flash_files[${quoted(offsetText)}] is not a file name`);
    const path = join(root, file as string);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new IdfBuildError(`${quoted(argsPath)} names ${quoted(file as string)} at ${offsetText}, but ${quoted(path)} cannot be read (${errnoOf(err)}): rebuild with idf.py build`);
    }
    if (bytes.length === 0) bad(`${quoted(file as string)} at ${offsetText} is empty`);
    const name = names.get(`${offset}:${file}`);
    regions.push({ offset: offset as number, path: file as string, ...(name ? { name } : {}), bytes });
  }
  regions.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < regions.length; i++) {
    const prev = regions[i - 1] as FlashRegion;
    const cur = regions[i] as FlashRegion;
    if (prev.offset + prev.bytes.length > cur.offset) {
      bad(`${quoted(prev.path)} at 0x${prev.offset.toString(16)} (${prev.bytes.length} bytes) overlaps ${quoted(cur.path)} at 0x${cur.offset.toString(16)}`);
    }
  }

  const app = findApp(args, regions, bad);
  let image;
  try {
    image = readAppImage(app.bytes);
  } catch (err) {
    const why = err instanceof ImageFormatError ? err.message : oneLine(err);
    throw new IdfBuildError(`app image ${quoted(join(root, app.path))} is not an ESP image (${why}): rebuild with idf.py build`);
  }
  if (!image.descriptor) throw new IdfBuildError(`app image ${quoted(join(root, app.path))} has no esp_app_desc_t at the start of its first segment: is it an ESP-IDF app?`);
  if (!image.checksumOk || image.hashOk === false) throw new IdfBuildError(`app image ${quoted(join(root, app.path))} fails its own ${image.checksumOk ? 'SHA-256 digest' : 'checksum'}: the file is damaged; rebuild with idf.py build`);

  const extra = isObject(args.extra_esptool_args) ? args.extra_esptool_args : {};
  const declaredChip = typeof extra.chip === 'string' && extra.chip !== '' ? extra.chip : undefined;
  if (declaredChip && image.chip && declaredChip !== image.chip) {
    bad(`extra_esptool_args says chip ${quoted(declaredChip)}, but the app image ${quoted(app.path)} is built for ${image.chip}`);
  }
  const chip = declaredChip ?? image.chip ?? 'esp32';
  const settings = isObject(args.flash_settings) ? args.flash_settings : {};
  const setting = (key: string, flag: string, fallback: string): string => {
    const value = settings[key] ?? writeFlashArg(args.write_flash_args, flag);
    return typeof value === 'string' && value !== '' ? value : fallback;
  };
  return {
    dir: root,
    chip,
    flashMode: setting('flash_mode', '--flash_mode', 'keep'),
    flashSize: setting('flash_size', '--flash_size', 'keep'),
    flashFreq: setting('flash_freq', '--flash_freq', 'keep'),
    before: underscored(extra.before, 'default_reset'),
    after: underscored(extra.after, 'hard_reset'),
    stub: extra.stub !== false && extra.stub !== 'false' && extra.no_stub !== true && extra['no-stub'] !== true,
    regions,
    app: { offset: app.offset, path: app.path, descriptor: image.descriptor },
  };
}

/**
 * The whole flash as one image: every region at its offset, the rest 0xFF (erased flash), sized
 * to `sizeBytes` or the build's flash_size (4 MB when it says "detect" or "keep"). For QEMU.
 */
export function mergeFlashImage(build: IdfBuild, sizeBytes?: number): Buffer {
  const size = sizeBytes ?? flashSizeBytes(build.flashSize) ?? 4 * 1024 * 1024;
  const end = Math.max(...build.regions.map((r) => r.offset + r.bytes.length));
  if (end > size) {
    throw new IdfBuildError(`the build in ${quoted(build.dir)} needs ${end} bytes of flash, more than the ${size} of the merged image: give a larger flash size`);
  }
  const flash = Buffer.alloc(size, 0xff);
  for (const region of build.regions) region.bytes.copy(flash, region.offset);
  return flash;
}

/** "4MB" -> 4194304; null for "detect", "keep" or anything else. */
export function flashSizeBytes(text: string): number | null {
  const m = /^(\d+)\s*(MB|KB)$/i.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * ((m[2] as string).toUpperCase() === 'MB' ? 1024 * 1024 : 1024);
}

function findApp(args: Record<string, unknown>, regions: FlashRegion[], bad: (what: string, fix?: string) => never): FlashRegion {
  const entry = args.app;
  if (isObject(entry) && typeof entry.offset === 'string') {
    const offset = parseOffset(entry.offset);
    const region = regions.find((r) => r.offset === offset);
    if (!region) bad(`"app" names offset ${quoted(entry.offset)}, which flash_files does not flash`);
    return region as FlashRegion;
  }
  // Older or hand-written files: the app is the region holding an app descriptor.
  const found = regions.find((r) => r.bytes[0] === 0xe9 && readAppImageQuiet(r.bytes));
  if (!found) bad('no "app" entry and no flashed file is an ESP-IDF app image');
  return found as FlashRegion;
}

function readAppImageQuiet(bytes: Buffer): boolean {
  try {
    return readAppImage(bytes).descriptor !== null;
  } catch {
    return false;
  }
}

function writeFlashArg(list: unknown, flag: string): unknown {
  if (!Array.isArray(list)) return undefined;
  const at = list.indexOf(flag);
  return at === -1 ? undefined : list[at + 1];
}

function parseOffset(text: string): number | null {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) return null;
  return Number(t);
}

function underscored(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value.replace(/-/g, '_') : fallback;
}

function fileKind(path: string): 'file' | 'dir' | 'missing' | 'other' {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

/** A value in double quotes for a one-line message (DEL, C1 and line separators escaped too). */
function quoted(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The short system reason of an fs error ("ENOENT"), or its message. */
function errnoOf(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return oneLine(err);
}
