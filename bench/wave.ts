/**
 * The whole wave-1 run on the emulator, as a user starts it (`hilt run` in a fresh folder, then
 * again with the lab PKI in place): wall time, time from the command to the first scenario, and
 * how the time splits between deliberate waits, scenarios and hilt's own start and finish.
 * Run: npm run bench -- wave
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunResults } from '../harness/report/model.ts';

const REPO = resolve(import.meta.dirname, '..');
/** The stall scenario waits out its timeout_ms on purpose. */
const DELIBERATE_MS = 2_000;

async function once(cwd: string): Promise<{ wallMs: number; firstScenarioMs: number; results: RunResults }> {
  const t0 = performance.now();
  let firstScenarioMs = NaN;
  const scenarios = join(REPO, 'scenarios');
  const files = (await import('node:fs')).readdirSync(scenarios).filter((f) => f.endsWith('.spec.ts')).sort().map((f) => join(scenarios, f));
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'hilt.js'), 'run', ...files], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d: Buffer) => {
      if (Number.isNaN(firstScenarioMs) && /01 mutual TLS/.test(d.toString())) firstScenarioMs = performance.now() - t0;
    });
    child.once('exit', done);
  });
  const wallMs = performance.now() - t0;
  if (code !== 0) throw new Error(`hilt run exited ${code}`);
  const results = JSON.parse(await readFile(join(cwd, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
  return { wallMs, firstScenarioMs, results };
}

export async function benchWave(): Promise<void> {
  console.log(`# wave-1 bench — ${new Date().toISOString()} — node ${process.version}`);
  const cwd = await mkdtemp(join(tmpdir(), 'hilt-wave-'));
  try {
    for (const label of ['fresh folder (lab PKI created)', 'PKI in place', 'PKI in place']) {
      const { wallMs, firstScenarioMs, results } = await once(cwd);
      const scenariosMs = results.scenarios.reduce((n, s) => n + s.durationMs, 0);
      const startMs = firstScenarioMs;
      const finishMs = wallMs - startMs - scenariosMs;
      const overheadMs = wallMs - DELIBERATE_MS;
      console.log(`${label}: ${results.totals.passed}/${results.scenarios.length} passed in ${(wallMs / 1000).toFixed(2)} s wall; ` +
        `first scenario after ${(firstScenarioMs / 1000).toFixed(2)} s; scenarios ${(scenariosMs / 1000).toFixed(2)} s ` +
        `(${(DELIBERATE_MS / 1000).toFixed(1)} s of it the stall's deliberate timeout); start ${(startMs / 1000).toFixed(2)} s, ` +
        `finish and reports ${(finishMs / 1000).toFixed(2)} s; hilt and the emulated board: ${(overheadMs / 1000).toFixed(2)} s ` +
        `(${((overheadMs / wallMs) * 100).toFixed(0)} % of wall)`);
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
