/**
 * ESP32 firmware images as ESP-IDF and esptool write them (bootloader_support's esp_app_format.h,
 * esp_app_format's esp_app_desc.h): the 24-byte image header, 8-byte segment headers, the
 * checksum byte on a 16-byte boundary, the optional SHA-256 digest, and the 256-byte
 * esp_app_desc_t at the start of the app's first DROM segment. Pure byte work.
 */
import { createHash } from 'node:crypto';

export const IMAGE_MAGIC = 0xe9;
export const APP_DESC_MAGIC = 0xabcd5432;
export const APP_DESC_SIZE = 256;
const HEADER_SIZE = 24;
const SEGMENT_HEADER_SIZE = 8;
const MAX_SEGMENTS = 16;
const CHECKSUM_SEED = 0xef;

/** esp_chip_id_t values, by the names esptool and flasher_args.json use. */
export const CHIP_IDS: Readonly<Record<number, string>> = {
  0x0000: 'esp32',
  0x0002: 'esp32s2',
  0x0005: 'esp32c3',
  0x0009: 'esp32s3',
  0x000c: 'esp32c2',
  0x000d: 'esp32c6',
  0x0010: 'esp32h2',
};

/** esp_app_desc_t, decoded. Strings are C strings cut at their NUL; the SHA is 64 lowercase hex. */
export interface AppDescriptor {
  secureVersion: number;
  version: string;
  projectName: string;
  time: string;
  date: string;
  idfVersion: string;
  elfSha256: string;
}

export interface ImageSegment {
  loadAddr: number;
  /** Where the segment's data starts in the image file. */
  offset: number;
  length: number;
}

export interface AppImage {
  chip?: string;
  entry: number;
  segments: ImageSegment[];
  descriptor: AppDescriptor | null;
  hashAppended: boolean;
  /** The checksum byte matches the segments' data (the ROM and bootloader refuse it otherwise). */
  checksumOk: boolean;
  /** The appended SHA-256 matches; null when the image carries none. */
  hashOk: boolean | null;
  /** Bytes the image occupies, digest included. */
  length: number;
}

/** The bytes are not an ESP image; the message says what is wrong with them. */
export class ImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFormatError';
  }
}

/** Walks an image's headers. Throws ImageFormatError when the bytes are not an ESP image. */
export function readAppImage(buf: Buffer): AppImage {
  if (buf.length < HEADER_SIZE) throw new ImageFormatError(`image is ${buf.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  if (buf[0] !== IMAGE_MAGIC) throw new ImageFormatError(`image starts with 0x${hex2(buf[0] ?? 0)}, not the ESP image magic 0xe9`);
  const count = buf[1] ?? 0;
  if (count === 0 || count > MAX_SEGMENTS) throw new ImageFormatError(`image header gives ${count} segments (1 to ${MAX_SEGMENTS} allowed)`);
  const chipId = buf.readUInt16LE(12);
  const hashAppended = buf[23] === 1;
  const segments: ImageSegment[] = [];
  let pos = HEADER_SIZE;
  let checksum = CHECKSUM_SEED;
  for (let i = 0; i < count; i++) {
    if (pos + SEGMENT_HEADER_SIZE > buf.length) throw new ImageFormatError(`image ends inside the header of segment ${i}`);
    const loadAddr = buf.readUInt32LE(pos);
    const length = buf.readUInt32LE(pos + 4);
    const offset = pos + SEGMENT_HEADER_SIZE;
    if (offset + length > buf.length) throw new ImageFormatError(`segment ${i} (${length} bytes at 0x${loadAddr.toString(16)}) runs past the image's end`);
    for (let j = offset; j < offset + length; j++) checksum ^= buf[j] ?? 0;
    segments.push({ loadAddr, offset, length });
    pos = offset + length;
  }
  const checksumAt = checksumOffset(pos);
  if (checksumAt >= buf.length) throw new ImageFormatError('image ends before its checksum byte');
  let length = checksumAt + 1;
  let hashOk: boolean | null = null;
  if (hashAppended) {
    if (length + 32 > buf.length) throw new ImageFormatError('image header says a SHA-256 is appended, but the image ends before it');
    hashOk = createHash('sha256').update(buf.subarray(0, length)).digest().equals(buf.subarray(length, length + 32));
    length += 32;
  }
  const first = segments[0];
  const descriptor = first && first.length >= APP_DESC_SIZE ? readAppDescriptor(buf.subarray(first.offset, first.offset + APP_DESC_SIZE)) : null;
  return {
    ...(CHIP_IDS[chipId] !== undefined ? { chip: CHIP_IDS[chipId] } : {}),
    entry: buf.readUInt32LE(4),
    segments,
    descriptor,
    hashAppended,
    checksumOk: buf[checksumAt] === checksum,
    hashOk,
    length,
  };
}

/**
 * Decodes the esp_app_desc_t at the start of `buf`, or null when the magic word is not there.
 * Given a whole image (0xE9 first), it finds the descriptor by walking the segment headers.
 */
export function readAppDescriptor(buf: Buffer): AppDescriptor | null {
  if (buf[0] === IMAGE_MAGIC) {
    try {
      return readAppImage(buf).descriptor;
    } catch {
      return null;
    }
  }
  if (buf.length < APP_DESC_SIZE || buf.readUInt32LE(0) !== APP_DESC_MAGIC) return null;
  return {
    secureVersion: buf.readUInt32LE(4),
    version: cString(buf, 0x10, 32),
    projectName: cString(buf, 0x30, 32),
    time: cString(buf, 0x50, 16),
    date: cString(buf, 0x60, 16),
    idfVersion: cString(buf, 0x70, 32),
    elfSha256: buf.subarray(0x90, 0xb0).toString('hex'),
  };
}

/** The 256-byte esp_app_desc_t for `d`. Throws RangeError when a string does not fit its field. */
export function encodeAppDescriptor(d: AppDescriptor): Buffer {
  const out = Buffer.alloc(APP_DESC_SIZE);
  out.writeUInt32LE(APP_DESC_MAGIC, 0);
  out.writeUInt32LE(d.secureVersion >>> 0, 4);
  putCString(out, 0x10, 32, d.version, 'version');
  putCString(out, 0x30, 32, d.projectName, 'projectName');
  putCString(out, 0x50, 16, d.time, 'time');
  putCString(out, 0x60, 16, d.date, 'date');
  putCString(out, 0x70, 32, d.idfVersion, 'idfVersion');
  if (!/^[0-9a-f]{64}$/i.test(d.elfSha256)) throw new RangeError(`elfSha256 must be 64 hex digits, got ${JSON.stringify(d.elfSha256)}`);
  Buffer.from(d.elfSha256, 'hex').copy(out, 0x90);
  return out;
}

export interface SegmentSpec {
  loadAddr: number;
  data: Buffer;
}

export interface EspImageOptions {
  segments: SegmentSpec[];
  entry?: number;
  chip?: string;
  /** esp_image_spi_mode_t: 0 QIO, 1 QOUT, 2 DIO (ESP-IDF's default), 3 DOUT. */
  flashMode?: number;
  /** Header nibble 0 = 1MB, 1 = 2MB, 2 = 4MB ... */
  flashSizeCode?: number;
  hashAppended?: boolean;
}

/** Any ESP image (bootloader or app): header, segments padded to 4 bytes, checksum, digest. */
export function buildEspImage(opts: EspImageOptions): Buffer {
  const chipId = Number(Object.entries(CHIP_IDS).find(([, name]) => name === (opts.chip ?? 'esp32'))?.[0] ?? 0);
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = IMAGE_MAGIC;
  header[1] = opts.segments.length;
  header[2] = opts.flashMode ?? 2;
  header[3] = ((opts.flashSizeCode ?? 2) << 4) | 0; // 40 MHz (DIV_2)
  header.writeUInt32LE((opts.entry ?? 0x40081000) >>> 0, 4);
  header[8] = 0xee; // WP pin "disabled", as the IDF bootloader writes it
  header.writeUInt16LE(chipId, 12);
  header.writeUInt16LE(399, 17); // max_chip_rev_full: ESP-IDF's default for ESP32 (v3.99)
  header[23] = opts.hashAppended === false ? 0 : 1;
  const parts: Buffer[] = [header];
  let checksum = CHECKSUM_SEED;
  let length = HEADER_SIZE;
  for (const seg of opts.segments) {
    const data = Buffer.concat([seg.data, Buffer.alloc((4 - (seg.data.length % 4)) % 4)]);
    const segHeader = Buffer.alloc(SEGMENT_HEADER_SIZE);
    segHeader.writeUInt32LE(seg.loadAddr >>> 0, 0);
    segHeader.writeUInt32LE(data.length, 4);
    for (const byte of data) checksum ^= byte;
    parts.push(segHeader, data);
    length += SEGMENT_HEADER_SIZE + data.length;
  }
  const pad = checksumOffset(length) - length;
  parts.push(Buffer.alloc(pad), Buffer.from([checksum]));
  let image = Buffer.concat(parts);
  if (header[23] === 1) image = Buffer.concat([image, createHash('sha256').update(image).digest()]);
  return image;
}

export interface AppImageOptions {
  descriptor: AppDescriptor;
  /** Bytes of "code" after the descriptor in the DROM segment (deterministic filler). */
  payloadBytes?: number;
  /** Segments after the DROM one; by default a small IRAM and DRAM segment. */
  segments?: SegmentSpec[];
  chip?: string;
}

/**
 * An ESP-IDF-shaped app image: a DROM segment starting with the descriptor, then more segments,
 * checksum and SHA-256 digest. For tests, benches and the emulator's factory image.
 */
export function buildAppImage(opts: AppImageOptions): Buffer {
  const filler = Buffer.alloc(opts.payloadBytes ?? 1024);
  for (let i = 0; i < filler.length; i++) filler[i] = (i * 31 + 7) & 0xff;
  const drom = { loadAddr: 0x3f400020, data: Buffer.concat([encodeAppDescriptor(opts.descriptor), filler]) };
  const more = opts.segments ?? [
    { loadAddr: 0x3ffb0000, data: Buffer.from('hilt dram segment\0\0\0') },
    { loadAddr: 0x40080000, data: Buffer.alloc(64, 0x36) },
  ];
  return buildEspImage({ segments: [drom, ...more], entry: 0x40081000, ...(opts.chip ? { chip: opts.chip } : {}) });
}

/**
 * Whether the ELF SHA-256 a board printed matches an image's. ESP-IDF prints only a prefix at
 * boot, CONFIG_APP_RETRIEVE_LEN_ELF_SHA hex digits (9 by default, 8 at least) followed by "...",
 * so a prefix of at least 8 digits matches.
 */
export function elfShaMatches(imageSha: string, printed: string): boolean {
  const seen = printed.trim().replace(/\.+$/, '').toLowerCase();
  return seen.length >= 8 && /^[0-9a-f]+$/.test(seen) && imageSha.toLowerCase().startsWith(seen);
}

/** The checksum byte sits where the image length (checksum included) is a multiple of 16. */
function checksumOffset(afterSegments: number): number {
  return afterSegments + (15 - (afterSegments % 16));
}

function cString(buf: Buffer, offset: number, size: number): string {
  const field = buf.subarray(offset, offset + size);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? size : end).toString('latin1');
}

function putCString(out: Buffer, offset: number, size: number, value: string, name: string): void {
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.length >= size) throw new RangeError(`${name} ${JSON.stringify(value)} is longer than the ${size - 1} characters esp_app_desc_t holds`);
  bytes.copy(out, offset);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
