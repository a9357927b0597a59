/**
 * STAND-IN until harness/wire/image.ts (the flashing work) is on main: the little of the ESP-IDF
 * app image format the emulated chip needs, with the same names and shapes as that module's
 * contract, so swapping is an import change. An app image is an 8-byte header (0xE9, segment
 * count, flash mode, size/frequency, entry), a 16-byte extended header, segments (load address,
 * length, data), a checksum byte at the end of a 16-byte block and, when the extended header says
 * so, a SHA-256 of everything before it. The first DROM segment starts with esp_app_desc_t
 * (components/esp_app_format/include/esp_app_desc.h), 256 bytes.
 */
import { createHash } from 'node:crypto';

export const IMAGE_MAGIC = 0xe9;
export const APP_DESC_MAGIC = 0xabcd5432;
const DESC_BYTES = 256;
const DROM = [0x3f400000, 0x3f800000] as const;
const MAX_SEGMENTS = 16;

export interface AppDescriptor {
  secureVersion: number;
  version: string;
  projectName: string;
  time: string;
  date: string;
  idfVersion: string;
  /** 64 hex digits. */
  elfSha256: string;
}

export interface ImageSegment { loadAddr: number; offset: number; length: number }

export interface AppImage {
  entry: number;
  segments: ImageSegment[];
  descriptor: AppDescriptor | null;
}

function cString(buf: Buffer, at: number, len: number): string {
  const field = buf.subarray(at, at + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function putString(buf: Buffer, at: number, len: number, text: string): void {
  // Leave room for the NUL, as ESP-IDF's strncpy into the struct does.
  Buffer.from(text, 'utf8').subarray(0, len - 1).copy(buf, at);
}

/** The descriptor at the start of `buf`, or null when its magic word is not there. */
export function readAppDescriptor(buf: Buffer): AppDescriptor | null {
  if (buf.length < DESC_BYTES || buf.readUInt32LE(0) !== APP_DESC_MAGIC) return null;
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

export function encodeAppDescriptor(d: AppDescriptor): Buffer {
  const buf = Buffer.alloc(DESC_BYTES);
  buf.writeUInt32LE(APP_DESC_MAGIC, 0);
  buf.writeUInt32LE(d.secureVersion, 4);
  putString(buf, 0x10, 32, d.version);
  putString(buf, 0x30, 32, d.projectName);
  putString(buf, 0x50, 16, d.time);
  putString(buf, 0x60, 16, d.date);
  putString(buf, 0x70, 32, d.idfVersion);
  Buffer.from(d.elfSha256, 'hex').copy(buf, 0x90, 0, 32);
  return buf;
}

/**
 * Walks an image's segment headers (never trusting fixed offsets). A string says why `buf` is
 * not an image, in the words ESP-IDF's loader would use.
 */
export function readAppImage(buf: Buffer): AppImage | string {
  if (buf.length < 24) return 'image is shorter than its header';
  if (buf[0] !== IMAGE_MAGIC) return `invalid magic byte 0x${buf[0]!.toString(16)}`;
  const count = buf[1]!;
  if (count === 0 || count > MAX_SEGMENTS) return `invalid segment count ${count}`;
  const segments: ImageSegment[] = [];
  let at = 24;
  for (let i = 0; i < count; i++) {
    if (at + 8 > buf.length) return `segment ${i} header runs past the image`;
    const loadAddr = buf.readUInt32LE(at);
    const length = buf.readUInt32LE(at + 4);
    if (at + 8 + length > buf.length) return `segment ${i} (${length} bytes at 0x${loadAddr.toString(16)}) runs past the image`;
    segments.push({ loadAddr, offset: at + 8, length });
    at += 8 + length;
  }
  const drom = segments.find((s) => s.loadAddr >= DROM[0] && s.loadAddr < DROM[1]);
  const descriptor = drom ? readAppDescriptor(buf.subarray(drom.offset, drom.offset + drom.length)) : null;
  return { entry: buf.readUInt32LE(4), segments, descriptor };
}

export interface BuildImageOptions {
  descriptor?: AppDescriptor;
  /** Extra bytes of the DROM segment after the descriptor (default 1 KiB of a pattern). */
  payloadBytes?: number;
  /** Segments instead of the default DROM + IRAM pair (a bootloader's, say). */
  segments?: Array<{ loadAddr: number; data: Buffer }>;
  entry?: number;
  hashAppended?: boolean;
}

/** A valid ESP-IDF-shaped image: header, extended header, segments, checksum, optional SHA-256. */
export function buildAppImage(options: BuildImageOptions): Buffer {
  const segments = options.segments ?? [
    {
      loadAddr: 0x3f400020,
      data: Buffer.concat([
        options.descriptor ? encodeAppDescriptor(options.descriptor) : Buffer.alloc(0),
        Buffer.from(Array.from({ length: options.payloadBytes ?? 1024 }, (_, i) => (i * 7 + 3) & 0xff)),
      ]),
    },
    { loadAddr: 0x40080000, data: Buffer.alloc(64, 0x36) },
  ];
  const hashAppended = options.hashAppended ?? true;
  const head = Buffer.alloc(24);
  head[0] = IMAGE_MAGIC;
  head[1] = segments.length;
  head[2] = 0x02; // DIO
  head[3] = 0x20; // 4 MB, 40 MHz
  head.writeUInt32LE(options.entry ?? 0x400805e4, 4);
  head[8] = 0xee; // WP pin: not used
  head[23] = hashAppended ? 1 : 0;
  const parts: Buffer[] = [head];
  let check = 0xef;
  for (const s of segments) {
    // Segment lengths are multiples of 4 in real images.
    const data = Buffer.concat([s.data, Buffer.alloc((4 - (s.data.length % 4)) % 4)]);
    const sh = Buffer.alloc(8);
    sh.writeUInt32LE(s.loadAddr, 0);
    sh.writeUInt32LE(data.length, 4);
    parts.push(sh, data);
    for (const b of data) check ^= b;
  }
  let body = Buffer.concat(parts);
  // The checksum byte sits at the end of a 16-byte block.
  const pad = 15 - (body.length % 16);
  body = Buffer.concat([body, Buffer.alloc(pad), Buffer.from([check])]);
  return hashAppended ? Buffer.concat([body, createHash('sha256').update(body).digest()]) : body;
}
