/**
 * Makes docs/report.png: the agent catalogue run on the emulator with five repetitions and two
 * budgets (the handshake stall, which waits out its 2 s timeout, breaks the first), compared with a baseline made from the same run with its
 * medians moved (a stand-in for last release's results.json), written as report.html and
 * photographed by Chromium's own `--screenshot`. Not a test; run it when the page changes:
 *   npx tsx test/report/screenshot.ts
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { toReportHtml } from '../../harness/report/html.ts';
import { resultKey, type Comparison, type RunResults } from '../../harness/report/model.ts';
import { HILT_BIN, REPO } from '../helpers.ts';
import { CHROMIUM, chromiumMissing } from './chromium.ts';

const OUT = join(REPO, 'docs', 'report.png');
const CONFIG = { repeat: 5, budgets: { tls_ms: '<= 1500', heap_peak_used: '<= 44 KiB' } };

function run(file: string, args: string[], cwd: string): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(file, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', done);
  });
}

/** Last release, as far as a picture needs it: TLS 8 % faster on two scenarios, one outcome different. */
function comparisonWith(results: RunResults): Comparison {
  const withTls = results.scenarios.filter((s) => s.metrics.some((m) => m.name === 'tls_ms'));
  const failed = results.scenarios.find((s) => s.outcome === 'failed');
  const metrics: Comparison['metrics'] = withTls.slice(0, 6).map((s, i) => {
    const m = s.metrics.find((x) => x.name === 'tls_ms')!;
    const baseline = i < 2 ? Math.round(m.median / 1.08) : m.median;
    const delta = m.median - baseline;
    const noise = Math.max(5, Math.round(m.median * 0.03));
    return { key: resultKey(s), name: 'tls_ms', unit: 'ms', baseline, current: m.median, delta, deltaPct: baseline ? (delta / baseline) * 100 : null,
      noise, change: Math.abs(delta) > noise ? 'regressed' : 'unchanged' };
  });
  const outcomes: Comparison['outcomes'] = failed ? [{ key: resultKey(failed), title: failed.title, from: 'passed', to: 'failed', regression: true }] : [];
  return {
    baseline: { path: 'reports/2026-11-02T09-14-51Z-7c1e', runId: '2026-11-02T09-14-51Z-7c1e', startedAt: '2026-11-02T09:14:51.000Z',
      firmware: results.run.firmware ? { ...results.run.firmware, version: '0.9.4' } : null },
    outcomes, metrics,
    regressions: outcomes.length + metrics.filter((m) => m.change === 'regressed').length,
  };
}

if (chromiumMissing) {
  console.error(chromiumMissing);
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'hilt-screenshot-'));
try {
  await writeFile(join(dir, 'hilt.config.json'), JSON.stringify(CONFIG));
  const code = await run(process.execPath, [HILT_BIN, 'run', '--target', 'emulator:'], dir);
  if (code !== 0 && code !== 1) throw new Error(`hilt run exited ${code}`);
  const results = JSON.parse(await readFile(join(dir, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
  results.comparison = comparisonWith(results);
  const page = join(dir, 'report.html');
  await writeFile(page, toReportHtml(results));
  const shot = await run(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${join(dir, 'profile')}`, '--window-size=1280,3700', `--screenshot=${OUT}`, pathToFileURL(page).href], dir);
  if (shot !== 0) throw new Error(`chromium --screenshot exited ${shot}`);
  console.log(`wrote ${OUT}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
