/** Shared test plumbing: temporary dirs, outside programs (openssl, the hilt CLI), a scripted agent. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab, type LabOptions } from '../harness/lab/index.ts';
import { ensurePki, type EnsureOptions, type Pki } from '../harness/pki/index.ts';
import type { RunResults } from '../harness/report/model.ts';

// The programs the tests start see the environment of a plain pipe: colour forced on the test run
// itself (CI may set FORCE_COLOR or MOCHA_COLORS) is not passed on, or their output would differ
// from what a user's pipe or log file gets.
delete process.env.FORCE_COLOR;
delete process.env.MOCHA_COLORS;

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
export function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 15_000, encoding: 'utf8', ...(options.env ? { env: options.env } : {}) },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs the hilt command line as a user would. */
export function hilt(args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
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


/**
 * A lab PKI and a lab on it for the enclosing describe block (started once, closed and removed
 * after): `const ctx = withLab({ profiles: ['good'] });` then `ctx.lab`, `ctx.pki` inside the tests.
 */
export function withLab(options: Omit<LabOptions, 'pki'> = {}, pkiOptions: Omit<EnsureOptions, 'dir'> = {}): { readonly pki: Pki; readonly lab: Lab } {
  let pki: Pki | null = null;
  let lab: Lab | null = null;
  let remove: (() => Promise<void>) | null = null;
  before(async function () {
    const tmp = await tempDir();
    remove = tmp.remove;
    pki = await ensurePki({ ...pkiOptions, dir: tmp.dir });
    lab = await startLab({ ...options, pki });
  });
  after(async () => {
    await lab?.close();
    await remove?.();
  });
  const outside = (what: string) => new Error(`withLab: the ${what} exists only inside tests of its describe block`);
  return {
    get pki(): Pki {
      if (!pki) throw outside('PKI');
      return pki;
    },
    get lab(): Lab {
      if (!lab) throw outside('lab');
      return lab;
    },
  };
}

/** results.json of the last `hilt run` in `dir` (through reports/latest, as CI reads it). */
export async function latestResults(dir: string): Promise<RunResults> {
  return JSON.parse(await readFile(join(dir, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
}

/** A scenario file of the test's own, importing hilt by absolute path (the import is line 1). */
export async function writeScenario(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `import { expect, scenario } from '${join(REPO, 'harness', 'index.ts')}';\n${body}\n`);
  return path;
}

/** What the scripted agent says it is; enough for Device's hello check. */
export const SCRIPTED_HELLO = {
  proto: 1, agent: { name: 'scripted', version: '0' }, fw: { project: 'scripted', version: '0.1', idf: 'v5.5', elf_sha256: null },
  chip: { model: 'ESP32', revision: 3, cores: 2, mac: '24:0a:c4:00:00:42' },
  mbedtls: { version: '3.6.3', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false, ciphersuites: [] },
  heap: { free: 100_000, min_free: 100_000, largest: 100_000 }, time: { epoch: 0, synced: false },
};

/**
 * A well-formed ok reply (docs/protocol.md) for the commands a run sends to prepare a scenario;
 * `{}` for the rest (tls.close, mqtt.disconnect, and commands a script answers itself).
 */
export function scriptedReply(command: string): object {
  switch (command) {
    case 'hello': return SCRIPTED_HELLO;
    case 'heap.stats': return SCRIPTED_HELLO.heap;
    case 'heap.release': return { free: SCRIPTED_HELLO.heap.free };
    case 'heap.reserve': return { reserved: 0, free: SCRIPTED_HELLO.heap.free };
    case 'store.put': return { slot: 'x', bytes: 1, complete: true };
    case 'store.del': return { slot: 'x' };
    case 'store.list': return { slots: [] };
    case 'time.set': return { epoch: 1, synced: true };
    case 'time.clear': return { epoch: 0, synced: false };
    default: return {};
  }
}

/**
 * May act on a command instead of the agent: return true when it handled it (`reply()` sends the
 * usual `ok`, or send something else, e.g. `@hil <id> ok {...}`, or nothing at all).
 */
export type AgentScript = (command: string, reply: () => void, socket: Socket, id: string) => boolean;

export interface ScriptedAgent {
  port: number;
  /** The --target for it; the agent cannot reset, so `?reset=none` unless it boots on `reset`. */
  target: string;
  /** Every command it received, in order. */
  heard: string[];
  close(): void;
}

/**
 * A scripted agent (a test double speaking protocol v1 over TCP on 127.0.0.1): answers what the
 * runner asks to prepare a scenario; `script` may act instead. Close it after the test.
 */
export async function scriptedAgent(script: AgentScript = () => false): Promise<ScriptedAgent> {
  const heard: string[] = [];
  const server = createServer((socket) => {
    let buffer = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = /^@hil (\d+) (\S+)/.exec(line);
        if (!m) continue;
        const [, id, command] = m as unknown as [string, string, string];
        heard.push(command);
        const body = scriptedReply(command);
        const reply = () => { socket.write(`@hil ${id} ok ${JSON.stringify(body)}\n`); };
        if (!script(command, reply, socket, id)) reply();
      }
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return { port, target: `tcp:127.0.0.1:${port}?reset=none`, heard, close: () => { server.close(); } };
}
