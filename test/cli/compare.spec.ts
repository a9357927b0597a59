/**
 * Comparing releases end to end, through `bin/hilt.js` on the emulator: a baseline run, then the
 * same scenario on boards that really differ (too little heap: the outcome regresses; a firmware
 * configuration with a 16 KiB TLS out-buffer: the heap peak regresses and breaks a relative
 * budget), with `hilt run --baseline`, `hilt compare` and report retention.
 */
import { expect } from 'chai';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REFERENCE_SDKCONFIG } from '../../emulator/index.ts';
import type { Comparison, RunResults } from '../../harness/report/model.ts';
import { REPO, hilt, tempDir } from '../helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

describe('hilt compare and hilt run --baseline, on the emulator', function () {
  this.timeout(120_000);
  let dir: string;
  let remove: () => Promise<void>;
  let bigOut: string;
  const runs: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
  const results = async (id: string) => JSON.parse(await readFile(join(dir, 'reports', id, 'results.json'), 'utf8')) as RunResults;
  const latestId = async () => (await results('latest')).run.id;

  before(async function () {
    ({ dir, remove } = await tempDir('hilt-compare-'));
    bigOut = join(dir, 'sdkconfig.big-out');
    const reference = 'CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=4096';
    expect(REFERENCE_SDKCONFIG).to.include(reference);
    await writeFile(bigOut, REFERENCE_SDKCONFIG.replace(reference, 'CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=16384'));
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ budgets: { heap_peak_used: '<= baseline + 1 KiB', tls_ms: '<= baseline + 10%' } }));
  });
  after(() => remove());

  it('relative budgets without a baseline: not judged, a note each, exit 0', async function () {
    const { code, stdout } = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 60_000 });
    expect(code, stdout).to.equal(0);
    runs.a = await latestId();
    const r = await results(runs.a);
    expect(r.comparison ?? null).to.equal(null);
    expect(r.scenarios[0]!.notes).to.include.members([
      'budget heap_peak_used <= baseline + 1 KiB not evaluated: no baseline run (give one with --baseline PATH or "baseline" in hilt.config.json)',
      'budget tls_ms <= baseline + 10% not evaluated: no baseline run (give one with --baseline PATH or "baseline" in hilt.config.json)',
    ]);
    expect(stdout).to.not.include('compared with');
  });

  it('an outcome regression: a board with too little heap fails what passed; --baseline reports/latest is the run before', async function () {
    const { code, stdout } = await hilt(['run', HAPPY, '--target', 'emulator:?heap=30000', '--baseline', 'reports/latest'], { cwd: dir, timeoutMs: 60_000 });
    expect(code, stdout).to.equal(1);
    runs.b = await latestId();
    const r = await results(runs.b);
    const c = r.comparison!;
    expect(c.baseline).to.include({ path: 'reports/latest', runId: runs.a });
    expect(c.outcomes).to.deep.equal([{ key: r.scenarios[0]!.id, title: r.scenarios[0]!.title, from: 'passed', to: 'failed', regression: true }]);
    expect(c.regressions).to.be.at.least(1);
    expect(stdout).to.match(new RegExp(`compared with run ${runs.a}: \\d+ regressions?`));
  });

  it('a metric regression: a 16 KiB out-buffer raises the heap peak by 12 KiB, over its relative budget; --keep 1 spares the baseline', async function () {
    const { code, stdout } = await hilt(['run', HAPPY, '--target', `emulator:?sdkconfig=${bigOut}`, '--baseline', `reports/${runs.a}`, '--keep', '1'], { cwd: dir, timeoutMs: 60_000 });
    expect(code, stdout).to.equal(1);
    runs.c = await latestId();
    const [before, after] = [(await results(runs.a)).scenarios[0]!, (await results(runs.c)).scenarios[0]!];
    const peak = (s: typeof before) => s.metrics.find((m) => m.name === 'heap_peak_used')!;
    expect(peak(after).median - peak(before).median).to.equal(12 * 1024);
    expect(peak(after).budget).to.deep.equal({
      expression: 'heap_peak_used <= baseline + 1 KiB', limit: peak(before).median + 1024, measured: peak(after).median, exceeded: true, baseline: peak(before).median,
    });
    expect(after.outcome).to.equal('failed');
    expect(after.failure!.kind).to.equal('budget');
    const c = (await results(runs.c)).comparison!;
    expect(c.metrics.find((m) => m.name === 'heap_peak_used')).to.include({ change: 'regressed', delta: 12 * 1024 });
    expect(c.outcomes.map((o) => [o.from, o.to, o.regression])).to.deep.equal([['passed', 'failed', true]]);
    // Retention: the run with too little heap went; the baseline and this run stayed.
    expect((await readdir(join(dir, 'reports'))).sort()).to.deep.equal([runs.a, runs.c, 'latest'].sort());
  });

  it('hilt compare OLD NEW: the same judgement as the run\'s, as text and as JSON; exit 1', async function () {
    const text = await hilt(['compare', `reports/${runs.a}`, 'reports/latest'], { cwd: dir });
    expect(text.code, text.stderr).to.equal(1);
    expect(text.stderr).to.equal('');
    expect(text.stdout).to.match(new RegExp(`^baseline: run ${runs.a} \\(hilt_test_agent 1\\.0\\.0\\), reports/${runs.a}\n`));
    expect(text.stdout).to.match(/\n {2}REGRESSION 01-mtls-happy-path\/\S+: passed -> failed\n/);
    expect(text.stdout).to.match(/\n {2}REGRESSED 01-mtls-happy-path\/\S+ heap_peak_used: (\d+) -> \d+ B \(\+12288 B, \+[\d.]+%; noise ±[\d.]+\)\n/);
    expect(text.stdout).to.match(/\n {2}EXCEEDED 01-mtls-happy-path\/\S+ heap_peak_used <= baseline \+ 1 KiB: /);
    const json = await hilt(['compare', `reports/${runs.a}`, `reports/${runs.c}/results.json`, '--json'], { cwd: dir });
    expect(json.code).to.equal(1);
    const parsed = JSON.parse(json.stdout) as Comparison;
    const stored = (await results(runs.c)).comparison!;
    expect(parsed.regressions).to.equal(stored.regressions);
    expect(parsed.outcomes).to.deep.equal(stored.outcomes);
    expect(parsed.budgets).to.deep.equal(stored.budgets);
    expect(text.stdout).to.include(`\n${stored.regressions} regression${stored.regressions === 1 ? '' : 's'}\n`);
  });

  it('a metric that regressed beyond noise fails the run by itself (exit 1), every scenario passed; "baseline" in the config', async function () {
    await writeFile(join(dir, 'no-budgets.json'), JSON.stringify({ baseline: `reports/${runs.a}` }));
    const { code, stdout } = await hilt(['run', HAPPY, '--config', 'no-budgets.json', '--target', `emulator:?sdkconfig=${bigOut}`], { cwd: dir, timeoutMs: 60_000 });
    expect(code, stdout).to.equal(1);
    const r = await results(await latestId());
    expect(r.totals).to.deep.equal({ passed: 1, failed: 0, error: 0, skipped: 0 });
    expect(r.comparison!.outcomes).to.deep.equal([]);
    expect(r.comparison!.metrics.filter((m) => m.change === 'regressed').map((m) => m.name)).to.include('heap_peak_used');
    expect(r.comparison!.regressions).to.be.at.least(1);
    expect(stdout).to.include('1 passed, 0 failed, 0 errors, 0 skipped');
    expect(stdout).to.match(new RegExp(`compared with run ${runs.a}: \\d+ regressions? \\(hilt compare reports/${runs.a} reports/`));
  });

  it('on two boards too: the regressed metric fails the run (exit 1) though every scenario passed', async function () {
    const second = join(REPO, 'scenarios', '02-expired-server-certificate.spec.ts');
    const board = `emulator:?sdkconfig=${bigOut}`;
    const { code, stdout } = await hilt(['run', HAPPY, second, '--config', 'no-budgets.json', '--target', board, '--target', board], { cwd: dir, timeoutMs: 90_000 });
    const r = await results(await latestId());
    expect(r.run.boards!.map((b) => b.id)).to.deep.equal(['b1', 'b2']);
    expect(r.totals).to.deep.equal({ passed: 2, failed: 0, error: 0, skipped: 0 });
    expect(r.comparison!.metrics.filter((m) => m.change === 'regressed').map((m) => m.name)).to.include('heap_peak_used');
    expect(code, stdout).to.equal(1);
  });

  it('hilt compare of a run with itself: no regressions, exit 0', async function () {
    const { code, stdout } = await hilt(['compare', `reports/${runs.a}`, `reports/${runs.a}`], { cwd: dir });
    expect(code).to.equal(0);
    expect(stdout).to.match(/\nmetrics: 8 compared, 8 within noise\n/);
    expect(stdout).to.match(/\nno regressions\n$/);
  });
});
