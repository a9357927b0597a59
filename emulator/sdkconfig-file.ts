/**
 * Reading a user's sdkconfig from disk, bounded: a real one is tens of KiB, so a path to
 * /dev/zero, a FIFO or a multi-gigabyte file is a mistake to name, not something to read whole.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { parseSdkconfig, type Sdkconfig } from './mbedtls/index.ts';

/** ESP-IDF's full sdkconfig is about 60-100 KiB; sixteen times that is no sdkconfig. */
export const MAX_SDKCONFIG_BYTES = 1024 * 1024;

/** Why the file could not be read; callers put their own prefix (flag or target) before it. */
export class SdkconfigFileError extends Error {
  override name = 'SdkconfigFileError';
  constructor(readonly path: string, readonly reason: string) {
    super(`sdkconfig ${path} ${reason}`);
  }
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a folder';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isFIFO()) return 'a named pipe';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * The parsed sdkconfig at `path`. Regular files only, at most MAX_SDKCONFIG_BYTES: checked before
 * opening (opening a FIFO would block), and again on what was read (the file may grow meanwhile).
 * Throws SdkconfigFileError for the file itself, SdkconfigError for its content.
 */
export function readSdkconfigFile(path: string): Sdkconfig {
  const fail = (reason: string) => new SdkconfigFileError(path, reason);
  const give = "give the sdkconfig file of your firmware's build";
  const check = (info: Stats) => {
    if (!info.isFile()) throw fail(`is ${kindOf(info)}, not a file: ${give}`);
    if (info.size > MAX_SDKCONFIG_BYTES) throw fail(`is ${info.size} bytes, over the ${MAX_SDKCONFIG_BYTES}-byte limit for an sdkconfig: ${give}`);
  };
  let fd: number;
  try {
    check(statSync(path));
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (err instanceof SdkconfigFileError) throw err;
    throw fail(`cannot be read (${codeOf(err)}): ${give}`);
  }
  try {
    check(fstatSync(fd));
    const buffer = Buffer.alloc(MAX_SDKCONFIG_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_SDKCONFIG_BYTES) throw fail(`grew past the ${MAX_SDKCONFIG_BYTES}-byte limit for an sdkconfig while it was read: ${give}`);
    return parseSdkconfig(buffer.subarray(0, length).toString('utf8'), path);
  } catch (err) {
    if (err instanceof Error && err.name.startsWith('Sdkconfig')) throw err;
    throw fail(`cannot be read (${codeOf(err)}): ${give}`);
  } finally {
    closeSync(fd);
  }
}
