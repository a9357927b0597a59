/**
 * Start-up of the `hilt` command, as ratios to a bare Node start (`node -e 0`) measured in the same
 * run, interleaved with it so a machine that slows down slows both: `hilt --help`, `hilt --version`
 * and `hilt run` up to the moment its first scenario starts (mocha prints the scenario's suite
 * title as it enters it), each from source (this checkout's bin/hilt.js through tsx) and from the
 * compiled build as the package ships it (`npm pack`, unpacked beside this checkout's node_modules).
 * STARTUP_BASELINE=<folder of another hilt checkout> adds that checkout's bin/hilt.js as a third
 * column, for a before-and-after. Run: npm run bench -- startup
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const REPO = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const ROUNDS = 10;
const RUN_ROUNDS = 10;
/** The first catalogue scenario of the hilt whose bin/hilt.js runs: its imports of hilt are that copy's. */
const scenarioOf = (bin: string) => join(dirname(bin), '..', 'scenarios', '01-mtls-happy-path.spec.ts');
const FIRST_SCENARIO = /01 mutual TLS happy path/;

/** Milliseconds from spawning `node args` to its exit, or to the first stdout chunk matching `until`. */
function timed(args: string[], cwd: string, until?: RegExp): Promise<number> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let at = NaN;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (until && Number.isNaN(at) && until.test(out)) at = performance.now() - t0;
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(guard);
      if (code !== 0) return fail(new Error(`node ${args.join(' ')} exited ${code}: ${err}${out}`));
      done(until ? at : performance.now() - t0);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** hilt as `npm pack` ships it (prepack builds dist/), unpacked in `dir`, using this checkout's node_modules. */
async function packed(dir: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO, maxBuffer: 16 << 20 });
  const tarball = join(dir, stdout.trim().split('\n').at(-1)!);
  await run('tar', ['-xzf', tarball, '-C', dir]);
  await symlink(join(REPO, 'node_modules'), join(dir, 'package', 'node_modules'));
  return join(dir, 'package', 'bin', 'hilt.js');
}

export async function benchStartup(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-startup-'));
  try {
    const bins: Array<[string, string]> = [['source', join(REPO, 'bin', 'hilt.js')], ['compiled', await packed(dir)]];
    if (process.env.STARTUP_BASELINE) bins.push([`baseline ${process.env.STARTUP_BASELINE}`, join(resolve(process.env.STARTUP_BASELINE), 'bin', 'hilt.js')]);
    const work = join(dir, 'work');
    await mkdir(work);
    const runArgs = (bin: string) => [bin, 'run', '--target', 'emulator:', '--report-dir', join(dir, 'reports'), '--certs', join(dir, 'certs'), scenarioOf(bin)];
    // Warm-up: the lab PKI is created once, tsx fills its cache of compiled sources.
    for (const [, bin] of bins) await timed(runArgs(bin), work);

    const node: number[] = [];
    const figures = new Map<string, number[]>();
    const add = (key: string, ms: number) => figures.set(key, [...(figures.get(key) ?? []), ms]);
    for (let i = 0; i < ROUNDS; i++) {
      node.push(await timed(['-e', '0'], work));
      for (const [name, bin] of bins) {
        add(`${name} --help`, await timed([bin, '--help'], work));
        add(`${name} --version`, await timed([bin, '--version'], work));
        if (i < RUN_ROUNDS) add(`${name} run`, await timed(runArgs(bin), work, FIRST_SCENARIO));
      }
    }
    const base = median(node);
    console.log(`# start-up — ${new Date().toISOString()} — node ${process.version}; medians of ${ROUNDS} (${RUN_ROUNDS} for run), interleaved; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`node -e 0: ${base.toFixed(0)} ms`);
    console.log(`| command | ${bins.map(([name]) => name).join(' | ')} |`);
    console.log(`|---|${bins.map(() => '---|').join('')}`);
    for (const [what, label] of [['--help', 'hilt --help'], ['--version', 'hilt --version'], ['run', 'hilt run, to the first scenario']] as const) {
      const cells = bins.map(([name]) => {
        const ms = median(figures.get(`${name} ${what}`)!);
        return `${ms.toFixed(0)} ms = ${(ms / base).toFixed(1)}x (+${(ms - base).toFixed(0)} ms)`;
      });
      console.log(`| ${label} | ${cells.join(' | ')} |`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    // postpack removes the build; after a failed pack it would stay and bin/hilt.js would run it.
    await rm(join(REPO, 'dist'), { recursive: true, force: true });
  }
}
