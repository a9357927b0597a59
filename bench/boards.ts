/**
 * The agent catalogue on 1, 2 and 4 emulated boards (`hilt run --target emulator` once per board,
 * the scenarios split across them): wall time as a user sees it, and the part of it the boards
 * spent in scenarios. The lab PKI is made by a first run that is not counted; the board counts
 * then take turns, so a machine whose load drifts drifts for all of them alike. Then once more
 * with --repeat 5, and the firmware catalogue against the emulated application (the good app of
 * bench/firmware.ts), where the scenarios' own time (the app's scaled timers) outweighs each
 * board's start.
 * Run: npm run bench -- boards
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunResults } from '../harness/report/model.ts';

const REPO = resolve(import.meta.dirname, '..');
const COUNTS = [1, 2, 4];
const ROUNDS = 3;
/** bench/firmware.ts's good app and config: AWS's backoff with jitter, timed for CI, an endpoint on any free port. */
const GOOD_APP = { timeScale: 0.05, keepaliveS: 20, reconnect: { policy: 'backoff-jitter' } };
const CONFIG = { endpoint: { port: 0 }, firmware: { scenarios: { 'MQTT Keepalive (no PINGRESP)': { boundMs: 4000 } } } };
const APP_TARGET = 'emulator:?firmware=app&settings=app.json';
const REPEAT = 5;

async function once(cwd: string, files: string[], boards: number, extra: string[] = [], target = 'emulator'): Promise<{ wallMs: number; results: RunResults }> {
  const targets = [...Array.from({ length: boards }, () => ['--target', target]).flat(), ...extra];
  const t0 = performance.now();
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'hilt.js'), 'run', ...files, ...targets], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', done);
  });
  const wallMs = performance.now() - t0;
  // (the firmware catalogue fails one scenario with this app: bench/README.md, firmware)
  if (code !== 0 && !(code === 1 && target !== 'emulator')) throw new Error(`hilt run on ${boards} board(s) exited ${code}`);
  const results = JSON.parse(await readFile(join(cwd, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
  return { wallMs, results };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function benchBoards(): Promise<void> {
  console.log(`# boards bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`);
  const scenarios = join(REPO, 'scenarios');
  const files = (await readdir(scenarios)).filter((f) => f.endsWith('.spec.ts')).sort().map((f) => join(scenarios, f));
  const cwd = await mkdtemp(join(tmpdir(), 'hilt-boards-'));
  try {
    await writeFile(join(cwd, 'app.json'), JSON.stringify(GOOD_APP));
    await writeFile(join(cwd, 'hilt.config.json'), JSON.stringify(CONFIG));
    await once(cwd, files, 1); // the lab PKI, made once
    const walls = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
    const busiest = new Map<number, number[]>(COUNTS.map((n) => [n, []]));
    let scenarioCount = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of COUNTS) {
        const { wallMs, results } = await once(cwd, files, n);
        scenarioCount = results.scenarios.length;
        walls.get(n)!.push(wallMs);
        // The board with the most scenario time: the least a split can take.
        const perBoard = new Map<string, number>();
        for (const sc of results.scenarios) perBoard.set(sc.board ?? 'b1', (perBoard.get(sc.board ?? 'b1') ?? 0) + sc.durationMs);
        busiest.get(n)!.push(Math.max(...perBoard.values()));
      }
    }
    const one = median(walls.get(1)!);
    for (const n of COUNTS) {
      const wall = median(walls.get(n)!);
      console.log(`${n} board${n > 1 ? 's' : ''}: ${scenarioCount} scenarios in ${s(wall)} wall (median of ${ROUNDS}; ${walls.get(n)!.map(s).join(', ')}), ` +
        `${(wall / one).toFixed(2)}x one board; busiest board's scenarios ${s(median(busiest.get(n)!))}`);
    }
    const repeated = new Map<number, number>();
    for (const n of COUNTS) repeated.set(n, (await once(cwd, files, n, ['--repeat', String(REPEAT)])).wallMs);
    for (const n of COUNTS) {
      console.log(`--repeat ${REPEAT}, ${n} board${n > 1 ? 's' : ''}: ${s(repeated.get(n)!)} wall, ${(repeated.get(n)! / repeated.get(1)!).toFixed(2)}x one board`);
    }
    const firmware = new Map<number, number>();
    for (const n of COUNTS) firmware.set(n, (await once(cwd, [], n, [], APP_TARGET)).wallMs);
    for (const n of COUNTS) {
      console.log(`firmware catalogue, ${n} emulated app${n > 1 ? 's' : ''}: ${s(firmware.get(n)!)} wall, ${(firmware.get(n)! / firmware.get(1)!).toFixed(2)}x one board`);
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
