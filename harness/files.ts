/** File helpers shared by the PKI and report writers: nothing half-written, keys private. */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { errnoOf } from './errors.ts';

/**
 * `mkdir -p`, one level at a time. Node 20's `mkdir(path, {recursive: true})` never settles for
 * a path under /proc (it retries the ENOENT for ever; the sync form blocks the process, Ctrl-C
 * included): here such a folder fails at once with the reason of the level that cannot be made.
 */
export async function makeDir(path: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const found = await stat(dir).catch((err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw err;
      return null;
    });
    if (found?.isDirectory()) break;
    if (found) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    await mkdir(dir).catch((err: unknown) => {
      if (errnoOf(err) !== 'EEXIST') throw err;
    });
  }
}

/**
 * Writes `data` to a temporary file beside `path`, then renames it over `path`, so a reader
 * sees the old file or the new one, never a torn one. `mode` applies from creation on (0o600
 * for private keys: they are never readable by others, not even for a moment).
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  await makeDir(dirname(path));
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
