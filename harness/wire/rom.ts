/**
 * The ESP32 ROM serial loader's messages (espressif/esptool loader.py, docs "Serial Protocol"):
 * requests and responses inside SLIP frames (slip.ts), with their opcodes, the data checksum and
 * the status bytes at the end of each response.
 *
 * Request:  00, op, size u16 LE, checksum u32 LE, data[size]
 * Response: 01, op, size u16 LE, value u32 LE, data[size]; data ends with the status bytes:
 *           4 from the ESP32 ROM (status, error, 0, 0), 2 from the flasher stub (error, status).
 */

export const OP = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  // The flasher stub only:
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;

export type OpName = keyof typeof OP;

/** Name of an opcode for messages ("FLASH_DATA (0x03)"). */
export function opName(op: number): string {
  const name = (Object.keys(OP) as OpName[]).find((k) => OP[k] === op);
  return `${name ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')})`;
}

/** Error codes the ROM puts in the second status byte (esptool's ROM_ERROR table). */
export const ROM_ERROR = {
  INVALID_MESSAGE: 0x05,
  FAILED_TO_ACT: 0x06,
  INVALID_CRC: 0x07,
  FLASH_WRITE: 0x08,
  FLASH_READ: 0x09,
  FLASH_READ_LENGTH: 0x0a,
  DEFLATE: 0x0b,
} as const;

/** Error codes of the flasher stub (esptool's stub_flasher.h). */
export const STUB_ERROR = {
  BAD_DATA_LEN: 0xc0,
  BAD_DATA_CHECKSUM: 0xc1,
  BAD_BLOCKSIZE: 0xc2,
  INVALID_COMMAND: 0xc3,
  FAILED_SPI_OP: 0xc4,
  FAILED_SPI_UNLOCK: 0xc5,
  NOT_IN_FLASH_MODE: 0xc6,
  INFLATE_ERROR: 0xc7,
  NOT_ENOUGH_DATA: 0xc8,
  TOO_MUCH_DATA: 0xc9,
  CMD_NOT_IMPLEMENTED: 0xff,
} as const;

export const CHECKSUM_SEED = 0xef;

/** The data checksum of MEM_DATA / FLASH_DATA / FLASH_DEFL_DATA: 0xEF XOR every payload byte. */
export function checksum(payload: Uint8Array, seed = CHECKSUM_SEED): number {
  let state = seed;
  for (const b of payload) state ^= b;
  return state;
}

/** The SYNC request's data: 07 07 12 20 and 32 × 55. */
export const SYNC_DATA = Buffer.concat([Buffer.from([0x07, 0x07, 0x12, 0x20]), Buffer.alloc(32, 0x55)]);

export interface RomRequest {
  op: number;
  checksum: number;
  data: Buffer;
}

export interface RomResponse {
  op: number;
  value: number;
  /** Everything after the 8-byte header, status bytes included. */
  data: Buffer;
}

export function encodeRequest(op: number, data: Buffer = Buffer.alloc(0), chk = 0): Buffer {
  const head = Buffer.alloc(8);
  head[0] = 0x00;
  head[1] = op;
  head.writeUInt16LE(data.length, 2);
  head.writeUInt32LE(chk >>> 0, 4);
  return Buffer.concat([head, data]);
}

/** A request frame's payload, or a one-line reason it is not one. */
export function decodeRequest(frame: Buffer): RomRequest | string {
  if (frame.length < 8) return `${frame.length} bytes: shorter than the 8-byte header`;
  if (frame[0] !== 0x00) return `direction byte 0x${frame[0]!.toString(16)}, not 0x00 (a request)`;
  const size = frame.readUInt16LE(2);
  if (frame.length - 8 !== size) return `size field ${size} but ${frame.length - 8} data bytes`;
  return { op: frame[1]!, checksum: frame.readUInt32LE(4), data: frame.subarray(8) };
}

export function encodeResponse(op: number, value: number, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = 0x01;
  head[1] = op;
  head.writeUInt16LE(data.length, 2);
  head.writeUInt32LE(value >>> 0, 4);
  return Buffer.concat([head, data]);
}

export function decodeResponse(frame: Buffer): RomResponse | null {
  if (frame.length < 8 || frame[0] !== 0x01) return null;
  return { op: frame[1]!, value: frame.readUInt32LE(4), data: frame.subarray(8, 8 + frame.readUInt16LE(2)) };
}

/**
 * Status bytes at the end of a response; `error` 0 means success. The ESP32 ROM sends four:
 * status (1 on failure), error, 0, 0. The stub sends two: its error code, then a status byte
 * (esptool's stub_flasher.c sends `error` then `status`; esptool reads C1 00 as "Bad data
 * checksum"), so a stub failure shows its code first.
 */
export function statusBytes(kind: 'rom' | 'stub', error = 0): Buffer {
  return kind === 'rom' ? Buffer.from([error === 0 ? 0 : 1, error, 0, 0]) : Buffer.from([error, 0]);
}

/** Little-endian u32 words of a request's data (FLASH_BEGIN's four, WRITE_REG's quadruples...). */
export function words(data: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) out.push(data.readUInt32LE(i));
  return out;
}
