/** Shared test plumbing: temporary dirs and outside programs (openssl, the hilt CLI). */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const HILT_BIN = join(REPO, 'bin', 'hilt.js');

/** A fresh temporary dir, removed by the returned function. */
export async function tempDir(prefix = 'hilt-test-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded by `timeoutMs`) and collects its output. */
export function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 15_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs the hilt command line as a user would. */
export function hilt(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return run(process.execPath, [HILT_BIN, ...args], options);
}

export { spawn };
