/**
 * Builds the native target's C parts outside the repo: Mbed TLS 3.6 as ESP-IDF v5.5 configures it
 * for an ESP32 (32-bit), then the host agent once firmware/Makefile has its `agent` target. Each
 * output lives in a cache folder named by a hash of the sources it came from, so a changed config
 * header or agent file gives a new folder and an unchanged checkout reuses the old one.
 *
 * A folder is complete or absent: make writes into `<name>.partial-<pid>`, which is renamed into
 * place only when the build succeeded, under a lock file so two processes never build the same key
 * at once. A missing compiler, make, bzip2 or 32-bit support is one line naming the Debian packages.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ExitCode, HiltError, UsageError, errnoOf, hasControlCharacter, printable, quoted } from '../errors.ts';
import { makeDir } from '../files.ts';
import { withLockFile } from '../lock.ts';
import { PACKAGE_DIR } from '../package.ts';

export const MBEDTLS_VERSION = '3.6.6';

/** firmware/ in hilt's package folder. */
export const FIRMWARE_DIR = join(PACKAGE_DIR, 'firmware') + sep;

/** What decides the Mbed TLS build (firmware/Makefile only includes mbedtls.mk: other parts edit it). */
const MBEDTLS_INPUTS = ['host/mbedtls/mbedtls.mk', 'host/mbedtls/fetch.sh', 'host/mbedtls/esp32_idf55_config.h', 'host/mbedtls/probe.c'];

/** Generous: the library took 9-15 s on this project's two busy cores; a slow CI machine may take minutes. */
const MAKE_TIMEOUT_MS = 20 * 60_000;
const FETCH_TIMEOUT_MS = 5 * 60_000;
const PROBE_TIMEOUT_MS = 10_000;

/** A build that could not be done; `exitCode` 2 for what the user installs or fixes, 3 when the source is unreachable. */
export class NativeBuildError extends HiltError {
  constructor(message: string, exitCode: number = ExitCode.usage) {
    super(message, exitCode);
    this.name = 'NativeBuildError';
  }
}

export interface NativeBuildOptions {
  /** Cache root; default $HILT_NATIVE_CACHE, else ~/.cache/hilt/native ($XDG_CACHE_HOME honoured). */
  cacheDir?: string;
  /** Progress lines ("building ..."); nothing by default. */
  log?: (line: string) => void;
  /** Stops a running build (its make and compilers are killed). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface MbedtlsBuild {
  version: string;
  key: string;
  /** <cache>/mbedtls-<version>-<key>: lib/, include/, bin/mbedtls-probe. */
  dir: string;
  /** false when this call built it. */
  cached: boolean;
  libs: string[];
  /** What code linking the libraries must be compiled with (the same config the library saw). */
  cflags: string[];
  probe: string;
}

export function nativeCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HILT_NATIVE_CACHE;
  if (given !== undefined) {
    if (given === '' || hasControlCharacter(given)) {
      throw new UsageError(`HILT_NATIVE_CACHE=${quoted(given)}: give a folder for the native build cache, or unset it for ~/.cache/hilt/native`);
    }
    return resolve(given);
  }
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'hilt', 'native');
}

/** 16 hex digits of SHA-256 over the named files (names and contents) and the extra strings. */
export async function sourcesKey(root: string, files: readonly string[], extra: readonly string[] = []): Promise<string> {
  const hash = createHash('sha256');
  for (const text of extra) hash.update(`${text}\0`);
  for (const file of [...files].sort()) {
    hash.update(`${file}\0`);
    hash.update(await readFile(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** sourcesKey over firmware/; a copy of hilt without its C sources is one line, not a stack. */
async function firmwareKey(files: readonly string[], extra: readonly string[]): Promise<string> {
  try {
    return await sourcesKey(FIRMWARE_DIR, files, extra);
  } catch (err) {
    throw new NativeBuildError(`native build: cannot read hilt's C sources in ${FIRMWARE_DIR} (${errnoOf(err)}): this copy of hilt lacks firmware/; reinstall it or use a checkout`);
  }
}

interface Run { code: number | null; signal: string | null; timedOut: boolean; aborted: boolean; error?: Error; output: string }

/** Runs a program in its own process group, output to `logPath` (and kept in memory), bounded. */
async function run(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number; logPath?: string; signal?: AbortSignal }): Promise<Run> {
  const log = opts.logPath ? await open(opts.logPath, 'w') : undefined;
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let written: Promise<unknown> = Promise.resolve();
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-16_384);
    // One write after another, all done before the file is closed.
    if (log) written = written.then(() => log.write(chunk)).catch(() => {});
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone already.
    }
  };
  const outcome = await new Promise<Omit<Run, 'output'>>((done) => {
    const finish = (o: Omit<Run, 'output'>) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
      done(o);
    };
    const stop = () => {
      killGroup();
      finish({ code: null, signal: 'SIGKILL', timedOut: false, aborted: true });
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ code: null, signal: 'SIGKILL', timedOut: true, aborted: false });
    }, opts.timeoutMs);
    if (opts.signal?.aborted) return stop();
    opts.signal?.addEventListener('abort', stop);
    child.once('error', (error) => finish({ code: null, signal: null, timedOut: false, aborted: false, error }));
    child.once('close', (code, signal) => finish({ code, signal, timedOut: false, aborted: false }));
  });
  await written;
  await log?.close();
  return { ...outcome, output };
}

function lastLine(text: string): string {
  return printable(text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).pop() ?? '').slice(0, 300);
}

/** The line that says why make failed: the compiler's first error, else make's last complaint. */
function makeReason(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/^make(\[\d+\])?: (Entering|Leaving) directory/.test(l));
  const why = lines.find((l) => /\berror\b/i.test(l) && !/^make/.test(l)) ?? lines.at(-1) ?? 'no message';
  return printable(why).slice(0, 300);
}

const PACKAGES = 'install them with: apt-get install gcc make libc6-dev gcc-multilib bzip2 (Debian/Ubuntu)';

/**
 * Checks for what the build runs: make, a C compiler that links and runs a -m32 program, and
 * bzip2 for the tarball. Fails with one line naming the Debian packages.
 */
export async function checkToolchain(env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<void> {
  const cc = env.CC || 'cc';
  for (const [tool, args] of [['make', ['--version']], [cc, ['--version']], ['bzip2', ['--help']]] as const) {
    const r = await run(tool, [...args], { env, timeoutMs: 10_000, signal });
    if (r.error) throw new NativeBuildError(`native build: ${tool} not found (${errnoOf(r.error)}): the native target needs make, gcc and bzip2; ${PACKAGES}`);
  }
  const dir = join(tmpdir(), `hilt-m32-${process.pid}-${Date.now()}`);
  await makeDir(dir);
  try {
    await writeFile(join(dir, 'm32.c'), '#include <stdio.h>\nint main(void) { return sizeof(void *) == 4 ? 0 : 1; }\n');
    const built = await run(cc, ['-m32', '-o', join(dir, 'm32'), join(dir, 'm32.c')], { env, timeoutMs: 60_000, signal });
    if (built.aborted) throw new NativeBuildError('native build: interrupted', ExitCode.interrupted);
    const ran = built.code === 0 ? await run(join(dir, 'm32'), [], { env, timeoutMs: 10_000, signal }) : undefined;
    if (built.code !== 0 || ran?.code !== 0) {
      const why = built.code !== 0 ? `${cc} -m32 cannot build a program (${lastLine(built.output) || 'no message'})` : 'a 32-bit program does not run here';
      throw new NativeBuildError(`native build: ${why}: Mbed TLS is built for 32 bits like the ESP32; ${PACKAGES}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

/** Runs `build(partial)` unless `dir` is there already; renames the partial folder into place. */
async function buildOnce(dir: string, what: string, opts: NativeBuildOptions, done: string, build: (partial: string) => Promise<void>): Promise<boolean> {
  const root = resolve(dir, '..');
  await makeDir(root).catch((err: unknown) => {
    throw new NativeBuildError(`native build: cannot create the cache folder ${root} (${errnoOf(err)}): choose a writable folder (--cache or HILT_NATIVE_CACHE)`);
  });
  return withLockFile(`${dir}.lock`, { what: `native build ${dir}`, timeoutMs: MAKE_TIMEOUT_MS }, async () => {
    if (await exists(join(dir, done))) return true;
    const partial = `${dir}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true }); // an incomplete folder from an older hilt
    opts.log?.(`building ${what} in ${dir} ...`);
    try {
      await build(partial);
      await rename(partial, dir);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    return false;
  });
}

/** Runs make in firmware/ for `target`; a failure is one line naming the log. */
async function make(target: string, vars: Record<string, string>, logPath: string, opts: NativeBuildOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const args = ['-C', FIRMWARE_DIR, '-j2', target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  const r = await run('make', args, { env, timeoutMs: MAKE_TIMEOUT_MS, logPath, signal: opts.signal });
  if (r.error) throw new NativeBuildError(`native build: make not found (${errnoOf(r.error)}); ${PACKAGES}`);
  if (r.aborted) throw new NativeBuildError(`native build: make ${target} interrupted`, ExitCode.interrupted);
  if (r.timedOut) throw new NativeBuildError(`native build: make ${target} did not finish within ${MAKE_TIMEOUT_MS / 60_000} min and was killed: see ${logPath}`);
  if (r.code !== 0) throw new NativeBuildError(`native build: make ${target} failed (exit ${r.code ?? r.signal}): ${makeReason(r.output)}; full log ${logPath}`);
}

/** Fetches the pinned tarball into <cache>/downloads; exit 3 when the source cannot be reached. */
async function fetchTarball(root: string, opts: NativeBuildOptions, env: NodeJS.ProcessEnv): Promise<void> {
  // Through bash: an npm-installed copy of hilt need not keep the script's execute bit.
  const r = await run('bash', [join(FIRMWARE_DIR, 'host/mbedtls/fetch.sh'), join(root, 'downloads')], { env, timeoutMs: FETCH_TIMEOUT_MS, signal: opts.signal });
  if (r.aborted) throw new NativeBuildError('native build: fetching Mbed TLS interrupted', ExitCode.interrupted);
  if (r.timedOut) throw new NativeBuildError(`native build: fetching Mbed TLS ${MBEDTLS_VERSION} took over ${FETCH_TIMEOUT_MS / 60_000} min: check the network, or set HILT_MBEDTLS_TARBALL`, ExitCode.unreachable);
  if (r.code !== 0) throw new NativeBuildError(`native build: ${lastLine(r.output)}`, r.code === 3 ? ExitCode.unreachable : ExitCode.usage);
}

export function mbedtlsCflags(dir: string): string[] {
  // The 64-bit time_t the library was built with (mbedtls.mk, MBEDTLS_TIME64): its structures hold time_t.
  return ['-m32', '-D_TIME_BITS=64', '-D_FILE_OFFSET_BITS=64', `-I${join(dir, 'include')}`, '-DMBEDTLS_CONFIG_FILE="mbedtls/esp32_idf55_config.h"'];
}

/** Mbed TLS for the native target, from the cache or built now. */
export async function buildMbedtls(opts: NativeBuildOptions = {}): Promise<MbedtlsBuild> {
  const env = opts.env ?? process.env;
  const root = opts.cacheDir ? resolve(opts.cacheDir) : nativeCacheRoot(env);
  const key = await firmwareKey(MBEDTLS_INPUTS, [`mbedtls-${MBEDTLS_VERSION}`, env.CC || 'cc']);
  const dir = join(root, `mbedtls-${MBEDTLS_VERSION}-${key}`);
  const probe = join(dir, 'bin', 'mbedtls-probe');
  const cached = await exists(probe) || await buildOnce(dir, `Mbed TLS ${MBEDTLS_VERSION} (32-bit, ESP-IDF v5.5 config)`, opts, 'bin/mbedtls-probe', async (partial) => {
    await checkToolchain(env, opts.signal);
    await fetchTarball(root, opts, env);
    await make('mbedtls', { MBEDTLS_OUT: partial, MBEDTLS_DOWNLOADS: join(root, 'downloads') }, `${dir}.log`, opts, env);
  });
  const libs = ['libmbedtls.a', 'libmbedx509.a', 'libmbedcrypto.a'].map((lib) => join(dir, 'lib', lib));
  return { version: MBEDTLS_VERSION, key, dir, cached, libs, cflags: mbedtlsCflags(dir), probe };
}

/** What the probe says about a build: checked by test/native/mbedtls.spec.ts, shown by `hilt native build --json`. */
export interface MbedtlsFacts {
  version: string;
  pointerBits: number;
  limbBits: number;
  /** sizeof(mbedtls_time_t): 64 as on an ESP32 (ESP-IDF 5), so dates past 2038 are checked as there. */
  timeBits: number;
  inContentLen: number;
  outContentLen: number;
  tls13: boolean;
  haveTimeDate: boolean;
  platformMemory: boolean;
  ciphersuites: string[];
  /** Compiled in (mbedtls_ecp_curve_list), strongest first. */
  curves: string[];
  /** Offered by a default client configuration, in order (Mbed TLS names: secp256r1, x25519). */
  groups: string[];
}

export async function probeMbedtls(build: MbedtlsBuild): Promise<MbedtlsFacts> {
  const r = await run(build.probe, [], { env: process.env, timeoutMs: PROBE_TIMEOUT_MS });
  if (r.code !== 0) throw new NativeBuildError(`native build: ${build.probe} failed (${r.error ? errnoOf(r.error) : `exit ${r.code ?? r.signal}`}): remove ${build.dir} and build again`);
  return JSON.parse(r.output) as MbedtlsFacts;
}

export interface AgentBuild {
  key: string;
  dir: string;
  cached: boolean;
  /** The host agent: stdin/stdout are its UART. */
  binary: string;
}

/** Every file under firmware/ (the agent may use any of them), relative paths. */
async function firmwareFiles(dir = FIRMWARE_DIR): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await firmwareFiles(path));
    else if (entry.isFile()) out.push(relative(FIRMWARE_DIR, path));
  }
  return out;
}

/** Whether firmware/Makefile has an `agent` target yet (the host port adds it). */
async function hasAgentTarget(env: NodeJS.ProcessEnv): Promise<boolean> {
  const r = await run('make', ['-C', FIRMWARE_DIR, '-n', 'agent', 'MBEDTLS_OUT=/nonexistent', 'AGENT_OUT=/nonexistent'], { env, timeoutMs: 30_000 });
  if (r.error) throw new NativeBuildError(`native build: make not found (${errnoOf(r.error)}); ${PACKAGES}`);
  return !/No rule to make target .agent./.test(r.output);
}

/**
 * The host agent, built against `mbedtls`: `make agent MBEDTLS_OUT=<dir> AGENT_OUT=<dir>` must
 * leave `<AGENT_OUT>/hilt-agent`. Null while firmware/Makefile has no such target.
 */
export async function buildAgent(mbedtls: MbedtlsBuild, opts: NativeBuildOptions = {}): Promise<AgentBuild | null> {
  const env = opts.env ?? process.env;
  if (!(await hasAgentTarget(env))) return null;
  const root = resolve(mbedtls.dir, '..');
  const key = await firmwareKey(await firmwareFiles(), ['agent', mbedtls.key, env.CC || 'cc']);
  const dir = join(root, `agent-${key}`);
  const binary = join(dir, 'hilt-agent');
  const cached = await exists(binary) || await buildOnce(dir, 'the host agent', opts, 'hilt-agent', async (partial) => {
    await make('agent', { MBEDTLS_OUT: mbedtls.dir, AGENT_OUT: partial }, `${dir}.log`, opts, env);
    if (!(await exists(join(partial, 'hilt-agent')))) {
      throw new NativeBuildError(`native build: make agent succeeded but left no ${join(partial, 'hilt-agent')}: firmware/Makefile's agent target must write $(AGENT_OUT)/hilt-agent`);
    }
  });
  return { key, dir, cached, binary };
}
