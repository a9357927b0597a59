/** Shared test plumbing: temporary dirs and outside programs (openssl, the hilt CLI). */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePki, type EnsureOptions, type Pki } from '../harness/pki/index.ts';

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

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but it resolved');
}

/**
 * A lab PKI in a temporary dir for the enclosing describe block (created once, removed after):
 * `const lab = withLabPki();` then `lab.pki` inside the tests.
 */
export function withLabPki(options: Omit<EnsureOptions, 'dir'> = {}): { readonly pki: Pki } {
  let pki: Pki | null = null;
  let remove: (() => Promise<void>) | null = null;
  before(async function () {
    const tmp = await tempDir();
    remove = tmp.remove;
    pki = await ensurePki({ ...options, dir: tmp.dir });
  });
  after(async () => { await remove?.(); });
  return {
    get pki(): Pki {
      if (!pki) throw new Error('withLabPki: the PKI exists only inside tests of its describe block');
      return pki;
    },
  };
}

