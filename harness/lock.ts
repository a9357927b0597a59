/**
 * An exclusive lock file, for work that two hilt processes must not do at once (creating or
 * refreshing one certs folder). The file is created with O_EXCL and holds the holder's pid; a
 * lock whose pid no longer runs is stale and is broken; the wait is bounded and ends in one line
 * naming the lock file.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { UsageError, errnoOf } from './errors.ts';

export interface LockOptions {
  /** What the lock guards, for the message when the wait ends (e.g. "certs dir /x"). */
  what: string;
  /** How long to wait for another holder (default 60 s: a first PKI on a busy machine takes seconds). */
  timeoutMs?: number;
  /** How often to look again while waiting. */
  pollMs?: number;
}

/** Runs `work` holding the lock file at `path`, and removes it after, whatever happened. */
export async function withLockFile<T>(path: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const token = await acquire(path, options);
  try {
    return await work();
  } finally {
    // Only our own lock: never one a later holder took after ours was (wrongly) broken.
    if ((await readText(path)) === token) await unlink(path).catch(() => {});
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM'; // alive, but another user's
  }
}

async function readText(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

/** The pid in a lock file; null while it is being written, gone, or not ours to read. */
async function holderOf(path: string): Promise<number | null> {
  const pid = Number((await readText(path))?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * A holder writes its pid the moment it has created the file, so a lock still empty after this
 * long belongs to a process killed in between: stale, like a lock whose pid no longer runs.
 */
const EMPTY_STALE_MS = 5_000;

async function emptyAndOld(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  return info !== null && info.size === 0 && Date.now() - info.mtimeMs > EMPTY_STALE_MS;
}

/** Creates the file with O_EXCL; false when it exists. */
async function create(path: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw new UsageError(`${path}: cannot create the lock file (${errnoOf(err)}): fix the folder's permissions`, { cause: err });
  }
  try {
    await handle.writeFile(text);
  } catch (err) {
    // A full disk takes the name but not the pid: an empty lock left behind would hold up every
    // later process for its whole wait.
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    const fix = errnoOf(err) === 'ENOSPC' ? 'free some space there' : "check the folder's file system";
    throw new UsageError(`${path}: cannot write the lock file (${errnoOf(err)}): ${fix}`, { cause: err });
  }
  await handle.close();
  return true;
}

/**
 * Removes a lock left by process `stale`; false when another process is at it (then wait as for
 * a live holder: that one may take its time, or have died leaving an empty breaker). Two waiters
 * may find the same stale lock; the one that removes it takes a second lock file first and
 * checks the pid again, so it never removes the fresh lock the other took in between.
 */
async function breakStale(path: string, stale: number | 'empty'): Promise<boolean> {
  const breaker = `${path}.break`;
  if (!(await create(breaker, `${process.pid}\n`))) {
    // Someone else is breaking it. A breaker that died on the way is itself stale.
    const other = await holderOf(breaker);
    if (other !== null && !running(other)) await unlink(breaker).catch(() => {});
    return false;
  }
  try {
    const still = stale === 'empty' ? await emptyAndOld(path) : (await holderOf(path)) === stale;
    if (still) await unlink(path).catch(() => {});
  } finally {
    await unlink(breaker).catch(() => {});
  }
  return true;
}

async function acquire(path: string, options: LockOptions): Promise<string> {
  const { timeoutMs = 60_000, pollMs = 50 } = options;
  const token = `${process.pid}\n`;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await create(path, token)) return token;
    const holder = await holderOf(path);
    if (holder !== null && !running(holder) && (await breakStale(path, holder))) continue;
    if (holder === null && (await emptyAndOld(path)) && (await breakStale(path, 'empty'))) continue;
    if (performance.now() >= deadline) {
      const who = holder === null ? 'another process' : `process ${holder}`;
      const waited = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
      throw new UsageError(`${options.what} is locked by ${who} (lock file ${path}) and stayed locked for ${waited}: ` +
        'wait for the other hilt to finish, or delete the lock file if none is running');
    }
    await delay(pollMs);
  }
}
