/**
 * The whole firmware catalogue (scenarios/firmware/) against the emulated application firmware
 * with a CI-scaled policy, as a user runs it, and wave 1 on the agent emulator in the same bench
 * run as the reference: wall time, time inside scenarios, and the ratio between the two runs.
 * The goal: the firmware catalogue under 60 s on this 2-core machine.
 * Run: npm run bench -- firmware
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunResults } from '../harness/report/model.ts';

const REPO = resolve(import.meta.dirname, '..');
/** The good app of test/firmware/catalogue.spec.ts: AWS's backoff with jitter, timed for CI. */
const GOOD_APP = { timeScale: 0.05, keepaliveS: 20, reconnect: { policy: 'backoff-jitter' } };
const CONFIG = { endpoint: { port: 0 }, firmware: { scenarios: { 'MQTT Keepalive (no PINGRESP)': { boundMs: 4000 } } } };

async function hiltRun(cwd: string, args: string[]): Promise<{ wallMs: number; results: RunResults }> {
  const t0 = performance.now();
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'hilt.js'), 'run', ...args], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', done);
  });
  const wallMs = performance.now() - t0;
  if (code !== 0 && code !== 1) throw new Error(`hilt run ${args.join(' ')} exited ${code}`);
  const results = JSON.parse(await readFile(join(cwd, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
  return { wallMs, results };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function benchFirmware(): Promise<void> {
  console.log(`# firmware catalogue bench — ${new Date().toISOString()} — node ${process.version}`);
  const cwd = await mkdtemp(join(tmpdir(), 'hilt-firmware-bench-'));
  try {
    await writeFile(join(cwd, 'app.json'), JSON.stringify(GOOD_APP));
    await writeFile(join(cwd, 'hilt.config.json'), JSON.stringify(CONFIG));
    const agentScenarios = (await readdir(join(REPO, 'scenarios'))).filter((f) => f.endsWith('.spec.ts')).sort().map((f) => join(REPO, 'scenarios', f));
    // The PKI once, so that neither measured run pays for creating it.
    await hiltRun(cwd, [agentScenarios[0]!]);
    for (let i = 0; i < 3; i++) {
      const agent = await hiltRun(cwd, agentScenarios);
      const firmware = await hiltRun(cwd, ['--target', 'emulator:?firmware=app&settings=app.json']);
      const inside = firmware.results.scenarios.reduce((n, s) => n + s.durationMs, 0);
      const t = firmware.results.totals;
      console.log(`firmware catalogue: ${firmware.results.scenarios.length} scenarios (${t.passed} passed, ${t.failed} failed, ${t.error} errors, ` +
        `${t.skipped} skipped) in ${seconds(firmware.wallMs)} wall, ${seconds(inside)} inside scenarios; ` +
        `wave 1 on the agent emulator: ${seconds(agent.wallMs)}; ratio firmware / wave 1: ${(firmware.wallMs / agent.wallMs).toFixed(1)}`);
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
