/**
 * The binary partition table ESP-IDF's gen_esp32part.py writes: 32-byte entries (magic 0xAA50),
 * an MD5 entry (0xEBEB, 14 x 0xFF, MD5 of the entries before it), then 0xFF to 0xC00 bytes.
 */
import { createHash } from 'node:crypto';

export const PARTITION_TABLE_SIZE = 0xc00;
const ENTRY_SIZE = 32;

export interface PartitionEntry {
  label: string;
  /** 0 = app, 1 = data. */
  type: number;
  subtype: number;
  offset: number;
  size: number;
  flags?: number;
}

/** ESP-IDF's "Single factory app, no OTA" table (partitions_singleapp.csv) for a 1 MB app. */
export const SINGLE_APP_TABLE: readonly PartitionEntry[] = [
  { label: 'nvs', type: 1, subtype: 0x02, offset: 0x9000, size: 0x6000 },
  { label: 'phy_init', type: 1, subtype: 0x01, offset: 0xf000, size: 0x1000 },
  { label: 'factory', type: 0, subtype: 0x00, offset: 0x10000, size: 0x100000 },
];

export function encodePartitionTable(entries: readonly PartitionEntry[]): Buffer {
  const rows = entries.map((e) => {
    const row = Buffer.alloc(ENTRY_SIZE);
    row.writeUInt16LE(0x50aa, 0); // bytes AA 50
    row[2] = e.type;
    row[3] = e.subtype;
    row.writeUInt32LE(e.offset, 4);
    row.writeUInt32LE(e.size, 8);
    const label = Buffer.from(e.label, 'latin1');
    if (label.length > 16) throw new RangeError(`partition label ${JSON.stringify(e.label)} is longer than 16 characters`);
    label.copy(row, 12);
    row.writeUInt32LE(e.flags ?? 0, 28);
    return row;
  });
  const body = Buffer.concat(rows);
  const md5Row = Buffer.concat([Buffer.from([0xeb, 0xeb]), Buffer.alloc(14, 0xff), createHash('md5').update(body).digest()]);
  const table = Buffer.alloc(PARTITION_TABLE_SIZE, 0xff);
  Buffer.concat([body, md5Row]).copy(table);
  return table;
}

/** The entries of a binary table, or null when it is not one (bad magic, bad MD5). */
export function readPartitionTable(buf: Buffer): PartitionEntry[] | null {
  const entries: PartitionEntry[] = [];
  for (let pos = 0; pos + ENTRY_SIZE <= buf.length; pos += ENTRY_SIZE) {
    if (buf[pos] === 0xaa && buf[pos + 1] === 0x50) {
      const label = buf.subarray(pos + 12, pos + 28);
      const end = label.indexOf(0);
      entries.push({
        label: label.subarray(0, end === -1 ? 16 : end).toString('latin1'),
        type: buf[pos + 2] ?? 0,
        subtype: buf[pos + 3] ?? 0,
        offset: buf.readUInt32LE(pos + 4),
        size: buf.readUInt32LE(pos + 8),
        flags: buf.readUInt32LE(pos + 28),
      });
      continue;
    }
    if (buf[pos] === 0xeb && buf[pos + 1] === 0xeb) {
      const md5 = createHash('md5').update(buf.subarray(0, pos)).digest();
      return md5.equals(buf.subarray(pos + 16, pos + 32)) ? entries : null;
    }
    // 0xFF row: the end of a table written without an MD5 entry (CONFIG_PARTITION_TABLE_MD5=n).
    return entries.length > 0 && buf[pos] === 0xff ? entries : null;
  }
  return entries.length > 0 ? entries : null;
}
