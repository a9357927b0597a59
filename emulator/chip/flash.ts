/**
 * The board's SPI flash: 4 MB that keep their contents across resets (the chip object lives as
 * long as the board), erased to 0xFF by sector, written as NOR flash writes (bits only go from 1
 * to 0). Pre-loaded with a factory image laid out as `idf.py flash` lays out a build: the
 * bootloader at 0x1000, the partition table at 0x8000, the app at 0x10000.
 */
import { createHash } from 'node:crypto';
import { buildAppImage, buildEspImage, ImageFormatError, readAppImage, type AppDescriptor, type AppImage } from '../../harness/wire/image.ts';
import { encodePartitionTable, PARTITION_TABLE_SIZE, readPartitionTable, SINGLE_APP_TABLE } from '../../harness/wire/partition-table.ts';

export const FLASH_BYTES = 4 * 1024 * 1024;
export const SECTOR_BYTES = 4096;
export const BOOTLOADER_OFFSET = 0x1000;
export const PARTITION_TABLE_OFFSET = 0x8000;
export const FACTORY_APP_OFFSET = 0x10000;

/** GigaDevice GD25Q32 (4 MB): what a DevKitC's module answers to RDID (0x9F), as the SPI W0 word. */
export const FLASH_ID = 0x1640c8;

export class Flash {
  readonly bytes = Buffer.alloc(FLASH_BYTES, 0xff);

  /** Erases whole sectors covering [offset, offset + length). */
  erase(offset: number, length: number): void {
    const start = Math.floor(offset / SECTOR_BYTES) * SECTOR_BYTES;
    const end = Math.min(FLASH_BYTES, Math.ceil((offset + length) / SECTOR_BYTES) * SECTOR_BYTES);
    this.bytes.fill(0xff, start, end);
  }

  /** NOR write: each byte ANDed into what is there. False when it would run past the end. */
  write(offset: number, data: Buffer): boolean {
    if (offset < 0 || offset + data.length > FLASH_BYTES) return false;
    for (let i = 0; i < data.length; i++) this.bytes[offset + i]! &= data[i]!;
    return true;
  }

  read(offset: number, length: number): Buffer {
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }

  md5(offset: number, length: number): Buffer {
    return createHash('md5').update(this.bytes.subarray(offset, offset + length)).digest();
  }

  inRange(offset: number, length: number): boolean {
    return offset >= 0 && length >= 0 && offset + length <= FLASH_BYTES;
  }
}

/** A small 2nd-stage bootloader image: what the ROM loads and prints `load:` lines for. */
export function bootloaderImage(): Buffer {
  return buildEspImage({
    entry: 0x40080400,
    hashAppended: false,
    segments: [
      { loadAddr: 0x3fff0030, data: Buffer.alloc(0x1a58, 0x11) },
      { loadAddr: 0x40078000, data: Buffer.alloc(0x2ee0, 0x22) },
      { loadAddr: 0x40080400, data: Buffer.alloc(0xe10, 0x33) },
    ],
  });
}

/** The descriptor of the factory app: hilt's test agent. */
export function agentDescriptor(version: string, idfVersion: string): AppDescriptor {
  return {
    secureVersion: 0, version, projectName: 'hilt_test_agent', time: '00:00:00', date: 'Nov 23 2026', idfVersion,
    // Stands for the build: the same text always gives the same hash, as one ELF file does.
    elfSha256: createHash('sha256').update(`hilt_test_agent ${version} ${idfVersion}`).digest('hex'),
  };
}

/** Writes bootloader, partition table and app into a flash, as flashing a build does. */
export function loadFactoryImage(flash: Flash, app: AppDescriptor): void {
  const regions: Array<[number, Buffer]> = [
    [BOOTLOADER_OFFSET, bootloaderImage()],
    [PARTITION_TABLE_OFFSET, encodePartitionTable(SINGLE_APP_TABLE)],
    [FACTORY_APP_OFFSET, buildAppImage({ descriptor: app })],
  ];
  for (const [offset, data] of regions) {
    flash.erase(offset, data.length);
    flash.write(offset, data);
  }
}

/** What the ROM and the 2nd-stage bootloader find in flash at boot. */
export type FlashBoot =
  | { ok: true; bootloader: { entry: number; segments: Array<{ loadAddr: number; length: number }> }; app: { offset: number; descriptor: AppDescriptor; label: string } }
  | { ok: false; stage: 'rom'; header: number }
  | { ok: false; stage: 'bootloader'; bootloader: { entry: number; segments: Array<{ loadAddr: number; length: number }> }; errors: string[] };

/** An image's headers, or why the loader would refuse it (in ESP-IDF's words where known). */
function image(buf: Buffer): AppImage | string {
  try {
    return readAppImage(buf);
  } catch (err) {
    if (err instanceof ImageFormatError) return err.message;
    throw err;
  }
}

export function findBoot(flash: Flash): FlashBoot {
  const bl = image(flash.read(BOOTLOADER_OFFSET, PARTITION_TABLE_OFFSET - BOOTLOADER_OFFSET));
  if (typeof bl === 'string' || !bl.checksumOk) return { ok: false, stage: 'rom', header: flash.bytes.readUInt32LE(BOOTLOADER_OFFSET) };
  const bootloader = { entry: bl.entry, segments: bl.segments.map((s) => ({ loadAddr: s.loadAddr, length: s.length })) };
  const tableBytes = flash.read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_SIZE);
  const table = readPartitionTable(tableBytes);
  if (table === null) {
    const magic = tableBytes.readUInt16LE(0);
    const why = magic === 0x50aa ? 'Partition table MD5 mismatch' : `partition 0 invalid magic number 0x${magic.toString(16)}`;
    return { ok: false, stage: 'bootloader', bootloader, errors: [`flash_parts: ${why}`, 'boot: Failed to verify partition table', 'boot: load partition table error!'] };
  }
  const apps = table.filter((p) => p.type === 0 && (p.subtype === 0 || (p.subtype >= 0x10 && p.subtype < 0x20)));
  const errors: string[] = [];
  for (const part of apps) {
    const at = `image at 0x${part.offset.toString(16)}`;
    const buf = flash.read(part.offset, Math.min(part.size, FLASH_BYTES - part.offset));
    if (buf[0] !== 0xe9) {
      errors.push(`esp_image: ${at} has invalid magic byte (nothing flashed here?)`);
      continue;
    }
    const app = image(buf);
    if (typeof app === 'string') errors.push(`esp_image: ${at}: ${app}`);
    else if (!app.checksumOk) errors.push(`esp_image: Checksum failed (${at})`);
    else if (app.hashOk === false) errors.push(`esp_image: Image hash failed - image is corrupt (${at})`);
    else if (!app.descriptor) errors.push(`esp_image: ${at} has no app description (esp_app_desc_t)`);
    else return { ok: true, bootloader, app: { offset: part.offset, descriptor: app.descriptor, label: part.label } };
  }
  errors.push('boot: No bootable app partitions in the partition table');
  return { ok: false, stage: 'bootloader', bootloader, errors };
}
