/**
 * The ESP32's ROM serial loader, which runs while the chip sits in download mode, and the
 * flasher stub's behaviour once a tool has uploaded the stub and started it. The emulator runs
 * no Xtensa code: a MEM_END that starts uploaded code makes it answer as the stub does from then
 * on (OHAI, two status bytes, compressed writes that ack on receipt, raw MD5, the erase and read
 * commands).
 *
 * Sources: espressif/esptool loader.py and targets/esp32.py (what a client sends and expects),
 * esptool-js 0.7.0 (esploader.js, targets/esp32.js), esptool's flasher_stub (stub_flasher.h's
 * error codes), and traces of real ESP32s in esptool's issue tracker (the SYNC and READ_REG
 * replies).
 */
import { inflateSync, constants as zlibConstants } from 'node:zlib';
import {
  OP, ROM_ERROR, STUB_ERROR, SYNC_DATA, checksum, decodeRequest, encodeResponse, opName, statusBytes, words, type RomRequest,
} from '../../harness/wire/rom.ts';
import { FLASH_BYTES, FLASH_ID, SECTOR_BYTES, type Flash } from './flash.ts';

/** ESP32's chip-detect magic at 0x40001000 (esptool's CHIP_DETECT_MAGIC_VALUE). */
export const ESP32_MAGIC = 0x00f01d83;
/** What the ROM answers SYNC with in the value field (seen in traces of real ESP32s). */
const ROM_SYNC_VALUE = 0x20120707;
/** The ROM (and esptool's stub, to match it) answers one SYNC eight times; esptool reads all. */
const SYNC_REPLIES = 8;
/** The largest data block the emulated loader takes (esptool's stub blocks are 16 KiB). */
export const MAX_BLOCK = 0x4000;

const EFUSE_BASE = 0x3ff5a000;
const APB_CTRL_DATE = 0x3ff6607c;
const UART_CLKDIV = 0x3ff40014;
const SPI_BASE = 0x3ff42000;
const SPI_CMD = SPI_BASE;
const SPI_USR2 = SPI_BASE + 0x24;
const SPI_W0 = SPI_BASE + 0x80;
const SPI_CMD_USR = 1 << 18;
const XTAL_HZ = 40_000_000;

export interface LoaderPort {
  flash: Flash;
  mac: string;
  /** Sends one frame's payload (the port SLIP-encodes it). */
  send(payload: Buffer): void;
  /** The chip's own UART rate. */
  baud(): number;
  /** CHANGE_BAUDRATE: the chip switches once its reply is out. */
  setChipBaud(baud: number): void;
  /** The ROM's FLASH_END "run user code", the stub's RUN_USER_CODE: leave the loader for the app. */
  runUserCode(): void;
  /** FLASH_END / FLASH_DEFL_END with 0: reboot the chip. */
  reboot(): void;
  /** One line for the chip's trace. */
  note(what: string): void;
}

interface FlashWrite {
  offset: number;
  /** Bytes the region may take (erased at begin). */
  size: number;
  blocks: number;
  blockSize: number;
  nextSeq: number;
  compressed: boolean;
  /** Compressed data so far (compressed writes). */
  received: Buffer[];
  /** Uncompressed bytes written so far. */
  written: number;
}

interface FlashRead { offset: number; length: number; packet: number; inflight: number; sent: number; acked: number }

export class SerialLoader {
  mode: 'rom' | 'stub' = 'rom';
  /** Requests answered, by opcode name: what a test or the trace can check. */
  readonly seen = new Map<string, number>();
  private regs = new Map<number, number>();
  private write: FlashWrite | null = null;
  private read: FlashRead | null = null;
  private memLoaded = 0;

  constructor(private readonly port: LoaderPort) {
    const mac = port.mac.split(':').map((h) => parseInt(h, 16));
    // eFuse BLK0 as on an ESP32-D0WD-V3 rev 3: word 1/2 the MAC, word 3 the package (D0WD) and
    // revision bit 0, word 5 revision bit 1; APB_CTRL_DATE bit 31 is revision bit 2.
    this.regs.set(EFUSE_BASE + 4, ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0);
    this.regs.set(EFUSE_BASE + 8, (mac[0]! << 8) | mac[1]!);
    this.regs.set(EFUSE_BASE + 12, (1 << 15) | (1 << 9));
    this.regs.set(EFUSE_BASE + 20, 1 << 20);
    this.regs.set(APB_CTRL_DATE, 0x80000000);
    this.regs.set(0x40001000, ESP32_MAGIC);
  }

  /** One SLIP frame's payload from the host. */
  frame(payload: Buffer): void {
    if (this.read && payload.length === 4) {
      this.readAck(payload.readUInt32LE(0));
      return;
    }
    const req = decodeRequest(payload);
    if (typeof req === 'string') {
      // The ROM ignores what is not a request; so does the stub.
      this.port.note(`loader: ignored a frame: ${req}`);
      return;
    }
    const name = opName(req.op).split(' ')[0]!;
    this.seen.set(name, (this.seen.get(name) ?? 0) + 1);
    this.handle(req);
  }

  private reply(op: number, value = 0, data: Buffer = Buffer.alloc(0), error = 0): void {
    this.port.send(encodeResponse(op, value, Buffer.concat([data, statusBytes(this.mode, error)])));
  }

  private fail(op: number, romError: number, stubError: number, why: string): void {
    this.port.note(`loader: ${opName(op)} refused: ${why}`);
    this.reply(op, 0, Buffer.alloc(0), this.mode === 'rom' ? romError : stubError);
  }

  private handle(req: RomRequest): void {
    const { op, data } = req;
    const w = words(data);
    switch (op) {
      case OP.SYNC:
        if (!data.equals(SYNC_DATA)) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'not the SYNC pattern');
        // Both answer eight times; the stub with value 0, which is how esptool tells it is running.
        for (let i = 0; i < SYNC_REPLIES; i++) this.reply(op, this.mode === 'rom' ? ROM_SYNC_VALUE : 0);
        return;
      case OP.READ_REG:
        if (data.length !== 4) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'READ_REG takes one address');
        return this.reply(op, this.readReg(w[0]!));
      case OP.WRITE_REG:
        if (data.length === 0 || data.length % 16 !== 0) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'WRITE_REG takes (address, value, mask, delay) quadruples');
        for (let i = 0; i < w.length; i += 4) this.writeReg(w[i]!, w[i + 1]!, w[i + 2]!);
        return this.reply(op);
      case OP.SPI_SET_PARAMS:
        if (data.length !== 24) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'SPI_SET_PARAMS takes six words');
        return this.reply(op);
      case OP.SPI_ATTACH:
        // The ROM takes an extra zero word that the stub does not; accept either.
        if (data.length !== 4 && data.length !== 8) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'SPI_ATTACH takes one or two words');
        return this.reply(op);
      case OP.MEM_BEGIN:
        if (data.length !== 16) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'MEM_BEGIN takes four words');
        return this.reply(op);
      case OP.MEM_DATA:
        if (!this.blockOk(req)) return;
        this.memLoaded += data.length - 16;
        return this.reply(op);
      case OP.MEM_END: {
        if (data.length !== 8) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'MEM_END takes two words');
        this.reply(op);
        if (w[0] === 0 && this.memLoaded > 0 && this.mode === 'rom') {
          // Uploaded code starts: from here on the chip behaves as esptool's flasher stub.
          this.mode = 'stub';
          this.port.note(`loader: uploaded code (${this.memLoaded} bytes) started at 0x${w[1]!.toString(16)}: flasher stub running`);
          this.port.send(Buffer.from('OHAI'));
        }
        return;
      }
      case OP.FLASH_BEGIN:
      case OP.FLASH_DEFL_BEGIN:
        return this.flashBegin(req);
      case OP.FLASH_DATA:
      case OP.FLASH_DEFL_DATA:
        return this.flashData(req);
      case OP.FLASH_END:
      case OP.FLASH_DEFL_END: {
        if (data.length !== 4) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'takes one word');
        this.write = null;
        this.reply(op);
        // 0: reboot. 1: the ROM leaves the loader and runs the app in flash (esptool's "soft
        // reset"); the stub stays, so that MD5 checks can follow the write.
        if (w[0] === 0) this.port.reboot();
        else if (this.mode === 'rom') this.port.runUserCode();
        return;
      }
      case OP.SPI_FLASH_MD5: {
        if (data.length !== 16) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'SPI_FLASH_MD5 takes four words');
        const [addr, size] = w as [number, number];
        if (!this.port.flash.inRange(addr, size)) return this.fail(op, ROM_ERROR.FLASH_READ_LENGTH, STUB_ERROR.FAILED_SPI_OP, `0x${addr.toString(16)}+${size} is past the 4 MB flash`);
        const digest = this.port.flash.md5(addr, size);
        // The ROM sends the digest as 32 hex characters, the stub as 16 raw bytes.
        return this.reply(op, 0, this.mode === 'rom' ? Buffer.from(digest.toString('hex')) : digest);
      }
      case OP.CHANGE_BAUDRATE: {
        if (data.length !== 8 || w[0]! < 300 || w[0]! > 5_000_000) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, `no baud rate ${w[0]}`);
        // The reply goes out at the old rate; then the chip's UART switches.
        this.reply(op);
        this.port.setChipBaud(w[0]!);
        return;
      }
      case OP.ERASE_FLASH:
        if (this.mode === 'rom') return this.unsupported(op);
        this.port.flash.erase(0, FLASH_BYTES);
        return this.reply(op);
      case OP.ERASE_REGION: {
        if (this.mode === 'rom') return this.unsupported(op);
        const [offset, size] = w as [number, number];
        if (data.length !== 8 || offset % SECTOR_BYTES !== 0 || size % SECTOR_BYTES !== 0) {
          return this.fail(op, 0, STUB_ERROR.BAD_DATA_LEN, 'ERASE_REGION takes a sector-aligned offset and size');
        }
        if (!this.port.flash.inRange(offset, size)) return this.fail(op, 0, STUB_ERROR.FAILED_SPI_OP, 'region past the flash');
        this.port.flash.erase(offset, size);
        return this.reply(op);
      }
      case OP.READ_FLASH: {
        if (this.mode === 'rom') return this.unsupported(op);
        const [offset, length, packet, inflight] = w as [number, number, number, number];
        if (data.length !== 16 || packet === 0 || packet > MAX_BLOCK || inflight === 0) return this.fail(op, 0, STUB_ERROR.BAD_DATA_LEN, 'READ_FLASH takes offset, length, packet size, packets in flight');
        if (!this.port.flash.inRange(offset, length)) return this.fail(op, 0, STUB_ERROR.FAILED_SPI_OP, 'region past the flash');
        this.reply(op);
        this.read = { offset, length, packet, inflight, sent: 0, acked: 0 };
        this.readPump();
        return;
      }
      case OP.RUN_USER_CODE:
        if (this.mode === 'rom') return this.unsupported(op);
        this.port.runUserCode();
        return;
      default:
        // GET_SECURITY_INFO is not in the ESP32's ROM (esptool falls back to the magic register).
        return this.unsupported(op);
    }
  }

  /**
   * A command this loader does not know. The stub answers it under its opcode with "command not
   * implemented" (0xFF; GET_SECURITY_INFO too, which its ESP32 build leaves out). The ESP32
   * ROM's reply carries status 1 and error 0x05 under another opcode, which is how esptool and
   * esptool-js tell "unsupported" from "failed" (an inference from their readers: both raise
   * UnsupportedCommandError only when the reply's opcode differs from the request's).
   */
  private unsupported(op: number): void {
    this.port.note(`loader: ${opName(op)} is not supported by the ${this.mode === 'rom' ? 'ESP32 ROM' : 'flasher stub'}`);
    if (this.mode === 'stub') return this.reply(op, 0, Buffer.alloc(0), STUB_ERROR.CMD_NOT_IMPLEMENTED);
    this.port.send(encodeResponse(0x00, 0, statusBytes('rom', ROM_ERROR.INVALID_MESSAGE)));
  }

  /** A MEM_DATA/FLASH_DATA block's header, length and checksum; answers the error itself. */
  private blockOk(req: RomRequest): boolean {
    const { op, data } = req;
    if (data.length < 16) {
      this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, 'shorter than the 16-byte block header');
      return false;
    }
    const length = data.readUInt32LE(0);
    const block = data.subarray(16);
    if (length !== block.length || length > MAX_BLOCK) {
      this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, `header says ${length} bytes, block has ${block.length}`);
      return false;
    }
    if (checksum(block) !== (req.checksum & 0xff)) {
      this.fail(op, ROM_ERROR.INVALID_CRC, STUB_ERROR.BAD_DATA_CHECKSUM, `checksum 0x${(req.checksum & 0xff).toString(16)}, data gives 0x${checksum(block).toString(16)}`);
      return false;
    }
    return true;
  }

  private flashBegin(req: RomRequest): void {
    const { op, data } = req;
    // FLASH_BEGIN: size, blocks, block size, offset (the ROM may get a fifth "encrypted" word).
    if (data.length !== 16 && data.length !== 20) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, `${data.length} bytes, not four words`);
    const [size, blocks, blockSize, offset] = words(data) as [number, number, number, number];
    if (blockSize === 0 || blockSize > MAX_BLOCK) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_BLOCKSIZE, `block size ${blockSize}`);
    if (!this.port.flash.inRange(offset, size)) return this.fail(op, ROM_ERROR.FLASH_WRITE, STUB_ERROR.FAILED_SPI_OP, `0x${offset.toString(16)}+${size} is past the 4 MB flash`);
    this.port.flash.erase(offset, size);
    this.write = { offset, size, blocks, blockSize, nextSeq: 0, compressed: op === OP.FLASH_DEFL_BEGIN, received: [], written: 0 };
    this.port.note(`loader: ${opName(op).split(' ')[0]} 0x${offset.toString(16)} ${size} bytes in ${blocks} blocks of ${blockSize}`);
    this.reply(op);
  }

  private flashData(req: RomRequest): void {
    const { op } = req;
    const w = this.write;
    if (!w || w.compressed !== (op === OP.FLASH_DEFL_DATA)) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.NOT_IN_FLASH_MODE, 'no matching FLASH_BEGIN');
    if (!this.blockOk(req)) return;
    const seq = req.data.readUInt32LE(4);
    const block = req.data.subarray(16);
    if (seq !== w.nextSeq) return this.fail(op, ROM_ERROR.INVALID_MESSAGE, STUB_ERROR.BAD_DATA_LEN, `block ${seq}, expected ${w.nextSeq}`);
    if (!w.compressed) {
      const at = w.offset + seq * w.blockSize;
      if (!this.port.flash.write(at, block)) return this.fail(op, ROM_ERROR.FLASH_WRITE, STUB_ERROR.FAILED_SPI_OP, 'write past the flash');
      w.written += block.length;
      w.nextSeq++;
      return this.reply(op);
    }
    w.received.push(Buffer.from(block));
    let out: Buffer;
    try {
      // Inflate everything so far, flushing what is complete: the stream need not have ended.
      out = inflateSync(Buffer.concat(w.received), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      return this.fail(op, ROM_ERROR.DEFLATE, STUB_ERROR.INFLATE_ERROR, `inflate: ${(err as Error).message}`);
    }
    if (out.length > w.size) return this.fail(op, ROM_ERROR.DEFLATE, STUB_ERROR.TOO_MUCH_DATA, `${out.length} bytes inflated, more than the ${w.size} begun`);
    this.port.flash.write(w.offset + w.written, out.subarray(w.written));
    w.written = out.length;
    w.nextSeq++;
    this.reply(op);
  }

  private readReg(addr: number): number {
    if (addr === UART_CLKDIV) return Math.round(XTAL_HZ / this.port.baud()) & 0xfffff;
    return this.regs.get(addr >>> 0) ?? 0;
  }

  private writeReg(addr: number, value: number, mask: number): void {
    const old = this.regs.get(addr) ?? 0;
    this.regs.set(addr, ((old & ~mask) | (value & mask)) >>> 0);
    if (addr === SPI_CMD && (value & SPI_CMD_USR) !== 0) this.spiUserCommand();
  }

  /** The SPI peripheral's "user command" as esptool drives it to read the flash's JEDEC id. */
  private spiUserCommand(): void {
    const command = (this.regs.get(SPI_USR2) ?? 0) & 0xff;
    if (command === 0x9f) this.regs.set(SPI_W0, FLASH_ID);
    else if (command === 0x05) this.regs.set(SPI_W0, 0);
    this.regs.set(SPI_CMD, (this.regs.get(SPI_CMD) ?? 0) & ~SPI_CMD_USR);
  }

  /** READ_FLASH: packets of `packet` bytes, at most `inflight` unacknowledged, then the MD5. */
  private readPump(): void {
    const r = this.read;
    if (!r) return;
    while (r.sent < r.length && r.sent - r.acked < r.packet * r.inflight) {
      const n = Math.min(r.packet, r.length - r.sent);
      this.port.send(this.port.flash.read(r.offset + r.sent, n));
      r.sent += n;
    }
  }

  private readAck(total: number): void {
    const r = this.read!;
    r.acked = Math.max(r.acked, total);
    if (r.acked >= r.length) {
      this.read = null;
      this.port.send(this.port.flash.md5(r.offset, r.length));
      return;
    }
    this.readPump();
  }

  /** A reset: the loader starts again as the ROM (the stub lived in RAM). */
  reset(): void {
    this.mode = 'rom';
    this.write = null;
    this.read = null;
    this.memLoaded = 0;
  }
}
