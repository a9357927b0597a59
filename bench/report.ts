/**
 * report.html of a full catalogue run: its size (and how much of it is the inlined Chart.js), the
 * time to make it from the results, and the time headless Chromium takes to render it from disk,
 * offline (navigation to the load event, by which the page's script has drawn every chart; as
 * the bench sees it over the DevTools pipe, and by the page's own navigation timing).
 * The agent catalogue runs on the emulator once with one repetition and once with --repeat 5.
 * Needs /usr/bin/chromium. Run: npm run bench -- report
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chartJsSource, toReportHtml } from '../harness/report/html.ts';
import { median, type RunResults } from '../harness/report/model.ts';
import { chromiumMissing, openInChromium } from '../test/report/chromium.ts';

const REPO = resolve(import.meta.dirname, '..');
const OPENS = 5;

async function hiltRun(cwd: string, args: string[]): Promise<void> {
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'hilt.js'), 'run', ...args], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', done);
  });
  if (code !== 0 && code !== 1) throw new Error(`hilt run ${args.join(' ')} exited ${code}`);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

export async function benchReport(): Promise<void> {
  console.log(`# report.html bench — ${new Date().toISOString()} — node ${process.version}`);
  if (chromiumMissing) {
    console.log(`skipped: ${chromiumMissing}`);
    return;
  }
  const cwd = await mkdtemp(join(tmpdir(), 'hilt-report-bench-'));
  try {
    const library = chartJsSource();
    const libraryBytes = 'source' in library ? Buffer.byteLength(library.source) : 0;
    for (const repeat of [1, 5]) {
      await hiltRun(cwd, ['--target', 'emulator:', '--repeat', String(repeat)]);
      const file = join(cwd, 'reports', 'latest', 'report.html');
      const results = JSON.parse(await readFile(join(cwd, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
      const size = (await stat(file)).size;
      const makeMs: number[] = [];
      for (let i = 0; i < OPENS; i++) {
        const t0 = performance.now();
        toReportHtml(results);
        makeMs.push(performance.now() - t0);
      }
      const loadMs: number[] = [];
      const pageMs: number[] = [];
      let charts = 0;
      for (let i = 0; i < OPENS; i++) {
        const page = await openInChromium(file);
        try {
          const ready = await page.evaluate<string>('document.documentElement.dataset.hiltReady');
          const problems = Object.values(page.problems).flat();
          if (ready !== 'charts' || problems.length) throw new Error(`report.html did not render cleanly: ${ready}; ${problems.join('; ')}`);
          charts = await page.evaluate<number>('document.querySelectorAll("canvas").length');
          loadMs.push(page.loadMs);
          // The page's own clock: from the start of navigation in the renderer to the end of load.
          pageMs.push(await page.evaluate<number>('performance.getEntriesByType("navigation")[0].loadEventEnd'));
        } finally {
          await page.close();
        }
      }
      console.log(`--repeat ${repeat}: ${results.scenarios.length} scenarios, ${charts} charts; report.html ${kib(size)} ` +
        `(Chart.js ${kib(libraryBytes)}, the rest ${kib(size - libraryBytes)}); made in ${median(makeMs).toFixed(1)} ms; ` +
        `rendered in Chromium in ${median(loadMs).toFixed(0)} ms from the navigate command to the load event ` +
        `(range ${Math.min(...loadMs).toFixed(0)}-${Math.max(...loadMs).toFixed(0)} ms), ${median(pageMs).toFixed(0)} ms by the page's own clock ` +
        `(range ${Math.min(...pageMs).toFixed(0)}-${Math.max(...pageMs).toFixed(0)} ms); medians of ${OPENS} opens`);
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
