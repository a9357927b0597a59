/** File helpers shared by the PKI and report writers: nothing half-written, keys private. */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `data` to a temporary file beside `path`, then renames it over `path`, so a reader
 * sees the old file or the new one, never a torn one. `mode` applies from creation on (0o600
 * for private keys: they are never readable by others, not even for a moment).
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
