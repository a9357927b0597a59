/**
 * A generated ESP-IDF build folder, laid out and spelled as `idf.py build` leaves it for an ESP32:
 * bootloader/bootloader.bin (an ESP image), partition_table/partition-table.bin (real entries and
 * the MD5 row), <project>.bin (an app image with a real esp_app_desc_t) and flasher_args.json in
 * the shape components/esptool_py/flasher_args.json.in produces. It stands in for a real build
 * (no toolchain here); the bytes are not runnable code.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildAppImage, buildEspImage, type AppDescriptor } from '../../harness/wire/image.ts';
import { encodePartitionTable, SINGLE_APP_TABLE } from '../../harness/wire/partition-table.ts';

export interface IdfBuildFixtureOptions {
  descriptor?: Partial<AppDescriptor>;
  chip?: string;
  /** The app image's own chip id, when a test wants it to disagree with flasher_args.json. */
  imageChip?: string;
  flashSize?: string;
  /** Filler bytes in the app's DROM segment (makes the image larger). */
  payloadBytes?: number;
  /** Replaces flasher_args.json's text (for malformed-file tests). */
  flasherArgsText?: string;
  /** Leaves these files (paths relative to the build folder) unwritten. */
  omit?: string[];
}

export interface IdfBuildFixture {
  dir: string;
  descriptor: AppDescriptor;
  appPath: string;
  appBytes: Buffer;
  bootloader: Buffer;
  partitionTable: Buffer;
}

/** A descriptor like an ESP-IDF v5.1 build of `name`; the ELF SHA derives from the name and version. */
export function fixtureDescriptor(overrides: Partial<AppDescriptor> = {}): AppDescriptor {
  const projectName = overrides.projectName ?? 'hilt_fixture_app';
  const version = overrides.version ?? 'v1.2.3';
  return {
    secureVersion: 0,
    version,
    projectName,
    time: '12:34:56',
    date: 'Nov 30 2026',
    idfVersion: 'v5.1.2',
    elfSha256: createHash('sha256').update(`elf of ${projectName} ${version}`).digest('hex'),
    ...overrides,
  };
}

export async function writeIdfBuildFixture(dir: string, opts: IdfBuildFixtureOptions = {}): Promise<IdfBuildFixture> {
  const chip = opts.chip ?? 'esp32';
  const descriptor = fixtureDescriptor(opts.descriptor);
  const appName = `${descriptor.projectName}.bin`;
  const bootloader = buildEspImage({
    chip,
    entry: 0x40080688,
    segments: [
      { loadAddr: 0x3fff0030, data: Buffer.alloc(0x2000 / 8, 0x11) },
      { loadAddr: 0x40078000, data: Buffer.alloc(0x4000 / 8, 0x22) },
      { loadAddr: 0x40080400, data: Buffer.alloc(0x1000 / 8, 0x33) },
    ],
  });
  const partitionTable = encodePartitionTable(SINGLE_APP_TABLE);
  const appBytes = buildAppImage({ descriptor, chip: opts.imageChip ?? chip, payloadBytes: opts.payloadBytes ?? 4096 });
  const files: Record<string, Buffer> = {
    'bootloader/bootloader.bin': bootloader,
    'partition_table/partition-table.bin': partitionTable,
    [appName]: appBytes,
  };
  const omit = new Set(opts.omit ?? []);
  for (const [path, bytes] of Object.entries(files)) {
    if (omit.has(path)) continue;
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  if (!omit.has('flasher_args.json')) {
    await writeFile(join(dir, 'flasher_args.json'), opts.flasherArgsText ?? flasherArgsJson(appName, chip, opts.flashSize ?? '2MB'));
  }
  return { dir, descriptor, appPath: join(dir, appName), appBytes, bootloader, partitionTable };
}

/** flasher_args.json as ESP-IDF v5.1 writes it for an ESP32 (the template's spacing kept). */
export function flasherArgsJson(appName: string, chip = 'esp32', flashSize = '2MB'): string {
  return `{
    "write_flash_args" : [ "--flash_mode", "dio",
                           "--flash_size", "${flashSize}",
                           "--flash_freq", "40m" ],
    "flash_settings" : {
        "flash_mode": "dio",
        "flash_size": "${flashSize}",
        "flash_freq": "40m"
    },
    "flash_files" : {
        "0x1000" : "bootloader/bootloader.bin",
        "0x10000" : "${appName}",
        "0x8000" : "partition_table/partition-table.bin"
    },
    "bootloader" : { "offset" : "0x1000", "file" : "bootloader/bootloader.bin", "encrypted" : "false" },
    "app" : { "offset" : "0x10000", "file" : "${appName}", "encrypted" : "false" },
    "partition-table" : { "offset" : "0x8000", "file" : "partition_table/partition-table.bin", "encrypted" : "false" },
    "extra_esptool_args" : {
        "after"  : "hard_reset",
        "before" : "default_reset",
        "stub"   : true,
        "chip"   : "${chip}"
    }
}
`;
}
