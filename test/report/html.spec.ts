/**
 * report.html: what it says, read as markup; and what it does, in headless Chromium (Debian's
 * package) opened offline from disk: every scenario row and chart there, the filter working, no
 * script or console error, no request for anything but the file itself.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartSpecs, reconnectIntervalsOf } from '../../harness/report/html-charts.ts';
import { toReportHtml, verdictOf } from '../../harness/report/html.ts';
import { resultKey, type RunResults } from '../../harness/report/model.ts';
import { hilt, REPO, tempDir } from '../helpers.ts';
import { chromiumMissing, openInChromium, type OpenedPage } from './chromium.ts';
import { allVerdicts, boardsRun, comparedRun, firmwareRun, repeatedRun, runResults, scenarios, XSS } from './fixtures.ts';

/** A run with every verdict, and a device that printed markup into a title, a note and its console. */
function hostileRun(): RunResults {
  const list = allVerdicts();
  list[0]!.title = `connects ${XSS}`;
  list[0]!.notes = [`device output: ${XSS}`];
  list[1]!.console = { firstLine: 40, lines: [`[   0.021] E (19) app: ${XSS}`, '[   0.022] I (20) app: </pre></details></td></tr></table><script>document.title="pwned"</script>'], reason: 'E lines' };
  return runResults({}, list);
}

describe('report.html', function () {
  describe('as markup', function () {
    it('escapes what a device printed wherever it shows it', function () {
      const page = toReportHtml(hostileRun());
      expect(page).to.not.include('<img src=x');
      expect(page).to.not.include('<script>document.title');
      expect(page).to.include('&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;');
      // Exactly the page's own three scripts: the chart data, Chart.js, hilt's.
      expect(page.match(/<script\b/g)).to.have.length(3);
    });

    it('allows only its own inline script and style, by hash, and nothing from anywhere', function () {
      const page = toReportHtml(runResults());
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)![1]!.replace(/&#39;/g, "'");
      expect(csp).to.match(/^default-src 'none'; /);
      const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
      const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
      const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
      expect(scripts).to.have.length(2);
      for (const s of scripts) expect(csp).to.include(hash(s));
      expect(csp).to.include(hash(styles[0]!));
      expect(page).to.not.match(/\b(src|href)="https?:/);
    });

    it('has one row per scenario, carrying its verdicts for the filter', function () {
      const page = toReportHtml(runResults({}, allVerdicts()));
      const rows = [...page.matchAll(/<tbody class="scenario" data-id="([^"]+)" data-verdicts="([^"]+)" data-open="([^"]+)">/g)].map((m) => [m[1], m[2], m[3]]);
      expect(rows.map((r) => r.slice(0, 2))).to.deep.equal(allVerdicts().map((s) => [s.id, verdictOf(s)]));
      expect(rows.map((r) => r[1])).to.deep.equal(['pass', 'fail', 'error', 'skipped', 'warn']);
      // What went wrong is open from the start.
      expect(rows.map((r) => r[2])).to.deep.equal(['false', 'true', 'true', 'false', 'false']);
      expect(page).to.include('not run: --bail after 05-handshake-budget failed');
    });

    it('shows the firmware identity, targets, hilt version, start and duration', function () {
      const run = runResults({ repeat: 5, image: {
        project: 'sensor-node', version: '1.4.2', idf: 'v5.2.1', elfSha256: 'ab'.repeat(32), builtAt: 'Nov 30 2026 12:34:56',
        buildDir: 'build', state: 'flashed', confirmedBy: 'hello',
      } });
      const page = toReportHtml(run);
      // (without run.repeat, as a runner that does not set it writes: the most any scenario ran)
      expect(toReportHtml(runResults())).to.include('<dt>Repetitions</dt><dd>5</dd>');
      expect(toReportHtml(runResults({}, scenarios().slice(1)))).to.not.include('<dt>Repetitions</dt>');
      for (const text of ['<dt>ESP-IDF</dt><dd>v5.2.1</dd>', `<code>${'ab'.repeat(32)}</code>`, '<dt>Built</dt><dd>Nov 30 2026 12:34:56</dd>',
        '<dt>Target</dt><dd>emulator</dd>', '<dt>hilt</dt><dd>0.1.0</dd>', '<dt>Started</dt><dd>2026-11-23T02:51:07.250Z</dd>',
        '<dt>Duration</dt><dd>14.1 s</dd>', '<dt>Repetitions</dt><dd>5</dd>']) {
        expect(page).to.include(text);
      }
    });

    it('says why a run was cut short, what broke, and the bench\'s warnings, under the counts', function () {
      const page = toReportHtml(runResults({
        cutShort: 'device unreachable after 07-low-heap: remaining 8 scenarios not run',
        infrastructureError: 'device emulator: no reply to hello within 5000 ms',
        warnings: ['root-current: key roots/current.key was mode 0644, open to others: set to 0600'],
      }));
      const alerts = page.slice(page.indexOf('<section id="verdict"'), page.indexOf('<section id="security"'));
      expect(alerts).to.include('<p class="alert">Infrastructure: device emulator: no reply to hello within 5000 ms</p>');
      expect(alerts).to.include('<p class="alert">Run cut short: device unreachable after 07-low-heap: remaining 8 scenarios not run</p>');
      expect(alerts).to.include('<p class="alert note">Warning: root-current: key roots/current.key was mode 0644');
      expect(toReportHtml(runResults())).to.not.include('class="alert');
    });

    it('gives each board a column and a row of its own, and names the board that was lost', function () {
      const page = toReportHtml(boardsRun());
      expect(page).to.match(/<thead><tr><th>Scenario<\/th><th>b1<\/th><th>b2<\/th><th class="num time">Time<\/th><\/tr><\/thead>/);
      expect(page).to.include('<dt>Targets</dt><dd>emulator:, serial:/dev/ttyUSB1</dd>');
      expect(page).to.match(/<tr data-board="b2">[\s\S]*?unreachable<\/span> device serial:\/dev\/ttyUSB1 went away/);
      // One row for the scenario both boards ran, with a detail for each.
      expect(page.match(/<tbody class="scenario"/g)).to.have.length(4);
      expect(page).to.include('data-key="01-valid-server@b1"').and.include('data-key="01-valid-server@b2"');
    });

    it('says what changed since the baseline, only when there is one', function () {
      const page = toReportHtml(comparedRun());
      expect(page).to.include('<section id="changes">').and.include('2 regressions');
      expect(page).to.match(/<tr data-key="05-handshake-budget"><td>handshake within budget<\/td><td>passed<\/td><td>failed<\/td><td><span class="regressed">regression/);
      expect(page).to.include('+570 ms (+30 %)').and.include('-1792 B (-4.2 %)').and.include('1 figures within their noise band');
      expect(toReportHtml(repeatedRun())).to.not.include('<section id="changes">');
    });

    it('draws medians, every repetition and the budget of each metric', function () {
      const specs = chartSpecs(repeatedRun());
      expect(specs.map((s) => s.id)).to.deep.equal(['chart-phases', 'chart-tls_ms', 'chart-heap_peak_used']);
      const tls = (specs[1]!.config as { data: { datasets: Array<{ label: string; data: unknown[] }> } }).data.datasets;
      expect(tls.map((d) => d.label)).to.deep.equal(['median', 'each repetition', 'budget']);
      expect(tls[1]!.data).to.have.length(10);
      expect(tls[2]!.data).to.deep.equal([{ x: 'connects to a valid server', y: 1500 }, { x: 'handshake within budget', y: 2000 }]);
      const heap = (specs[2]!.config as { data: { datasets: Array<{ data: unknown[] }> } }).data.datasets;
      expect(heap[2]!.data).to.deep.equal([{ x: 'connects to a valid server', y: 40 }]);
      expect(toReportHtml(repeatedRun())).to.include('1210 (p95 1250)');
    });

    it('gives two scenarios whose titles start alike bars of their own', function () {
      const list = repeatedRun().scenarios.slice(0, 2);
      list[0]!.title = 'refuses a broker whose certificate is expired (ECDSA chain)';
      list[1]!.title = 'refuses a broker whose certificate is expired (RSA chain)';
      const tls = chartSpecs(runResults({}, list)).find((s) => s.id === 'chart-tls_ms')!;
      const data = (tls.config as { data: { labels: string[]; datasets: Array<{ data: Array<{ x: string }> }> } }).data;
      expect(new Set(data.labels).size).to.equal(2);
      expect(new Set(data.datasets[1]!.data.map((p) => p.x))).to.deep.equal(new Set(data.labels));
    });

    it('draws the reconnect intervals of firmware backoff scenarios, whatever their verdict', function () {
      const run = firmwareRun();
      expect(run.scenarios.map(reconnectIntervalsOf)).to.deep.equal([[1010, 1890, 4120, 7650, 16300], [1000, 2000, 4000, 8000], [500, 500, 500, 500]]);
      const backoff = chartSpecs(run).find((s) => s.id === 'chart-backoff')!;
      const data = backoff.config as { data: { labels: string[]; datasets: Array<{ data: number[] }> } };
      expect(data.data.labels).to.have.length(5);
      expect(data.data.datasets.map((d) => d.data.length)).to.deep.equal([5, 4, 4]);
      expect(toReportHtml(run)).to.include('<b>Reconnect intervals:</b> 500, 500, 500, 500 ms');
    });

    it('gathers security findings in one place', function () {
      const list = allVerdicts();
      list[0]!.notes = ['host name check skipped (skip_cn=1): the device accepted a certificate issued for another host'];
      const run = runResults({ security: { have_time_date: false, ciphersuites: ['TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', 'TLS-RSA-WITH-AES-128-CBC-SHA', 'TLS-RSA-WITH-NULL-SHA'] } }, list);
      const page = toReportHtml(run);
      const section = /<section id="security">([\s\S]*?)<\/section>/.exec(page)![1]!;
      const titles = [...section.matchAll(/<b>([^<]+)<\/b>/g)].map((m) => m[1]);
      expect(titles).to.deep.equal(['Certificate dates are not checked', 'Forbidden cipher suites offered', 'Weak cipher suites offered', 'Host-name check skipped']);
      expect(section).to.include('TLS-RSA-WITH-NULL-SHA').and.include('<code>01-valid-server</code>');
      // A note about a check skipped on purpose is not "a certificate was accepted".
      expect(section).to.not.include('must be refused');
      expect(/<section id="security">([\s\S]*?)<\/section>/.exec(toReportHtml(runResults()))![1]).to.include('None');
    });

    it('shows the device result with its code names, read from the console excerpt', function () {
      const list = allVerdicts();
      list[1]!.console = { firstLine: 12, reason: "the device's connect result", lines: [
        '[   0.021] @hil 41 ok {"connected":false,"tls":{"version":"TLSv1.2","cipher":"TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"},"error":{"esp_err_name":"ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED","stack_err_name":"MBEDTLS_ERR_X509_CERT_VERIFY_FAILED","verify_info":["The certificate validity has expired"],"mqtt_error_type":"TCP_TRANSPORT","connack":null}}',
      ] };
      const page = toReportHtml(runResults({}, list));
      expect(page).to.include("<b>Device's result:</b> did not connect · TLSv1.2 TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384 · ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED · MBEDTLS_ERR_X509_CERT_VERIFY_FAILED · TCP_TRANSPORT · verify: The certificate validity has expired");
      expect(page).to.include('(lines 12–12: the device&#39;s connect result)');
    });

    it('shows the broker\'s record of each connection as the lab wrote it', function () {
      const list = allVerdicts();
      list[0]!.attempts = [
        { id: 1, listener: 'good', tls: { outcome: 'ok', reason: null, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
          mqtt: { clientId: 'esp32-000001', keepalive: 120, clean: true, protocolVersion: 4, username: null, connack: 5 }, closed: { by: 'broker', reason: 'CONNACK refused' } },
        { id: 2, listener: 'expired', tls: { outcome: 'failed', reason: 'certificate expired', protocol: null, cipher: null }, mqtt: null, closed: { by: 'device' } },
      ];
      const page = toReportHtml(runResults({}, list));
      const table = /<table class="attempts">([\s\S]*?)<\/table>/.exec(page)![1]!;
      const rows = [...table.matchAll(/<tr><td>([\s\S]*?)<\/td><\/tr>/g)].map((m) => m[1]!.split(/<\/td>\s*<td>/).map((c) => c.trim()));
      expect(rows).to.deep.equal([
        ['good', 'ok', 'TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384', 'client esp32-000001, CONNACK 5', 'CONNACK refused'],
        ['expired', 'failed (certificate expired)', '', '', 'device'],
      ]);
    });

    it('says so in place of the charts when Chart.js cannot be read', function () {
      const page = toReportHtml(repeatedRun(), { problem: 'chart.js could not be read (ENOENT): reinstall hilt\'s dependencies (npm ci)' });
      expect(page).to.include('Charts not drawn: chart.js could not be read (ENOENT)');
      expect(page).to.include('<tbody class="scenario"');
    });
  });

  describe('in headless Chromium, offline', function () {
    this.timeout(90_000);
    let dir: string;
    let remove: () => Promise<void> = async () => {};
    before(async function () {
      if (chromiumMissing) {
        console.log(`    (${chromiumMissing})`);
        this.skip();
      }
      ({ dir, remove } = await tempDir('hilt-html-'));
    });
    after(() => remove());

    async function open(name: string, page: string): Promise<OpenedPage> {
      const file = join(dir, `${name}.html`);
      await writeFile(file, page);
      return openInChromium(file);
    }

    /** What the rendered page holds: rows shown per verdict filter, charts drawn, the title. */
    const READ = `(() => {
      const rows = () => [...document.querySelectorAll('tbody.scenario')];
      // Details: folded for what passed, open for what failed; a click on the title unfolds them.
      const unfolded = () => rows().filter((r) => !r.querySelector('tr.details').hidden).map((r) => r.dataset.id);
      const foldedAtFirst = unfolded();
      for (const r of rows()) if (r.dataset.open !== 'true') r.querySelector('button.toggle').click();
      const afterClicks = unfolded();
      const shown = () => rows().filter((r) => !r.hidden).map((r) => r.dataset.id);
      const byFilter = {};
      for (const b of document.querySelectorAll('.filters button')) { b.click(); byFilter[b.dataset.filter] = shown(); }
      document.querySelector('.filters button[data-filter="all"]').click();
      const charts = [...document.querySelectorAll('canvas')].map((c) => {
        const chart = Chart.getChart(c);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
        return { id: c.id, drawn: !!chart, points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0, inked, width: c.width };
      });
      return { ready: document.documentElement.dataset.hiltReady, title: document.title, rows: rows().length, byFilter, charts, foldedAtFirst, afterClicks,
        // Elements a device's text would have made had it been taken as markup: any image, a fourth script.
        injected: document.querySelectorAll('img').length + Math.max(0, document.scripts.length - 3) };
    })()`;
    type Read = { ready: string; title: string; rows: number; byFilter: Record<string, string[]>; foldedAtFirst: string[]; afterClicks: string[]; charts: Array<{ id: string; drawn: boolean; points: number; inked: number; width: number }>; injected: number };

    async function check(name: string, results: RunResults, then?: (page: OpenedPage) => Promise<void>): Promise<Read> {
      const page = await open(name, toReportHtml(results));
      try {
        const read = await page.evaluate<Read>(READ);
        expect(page.problems).to.deep.equal({ exceptions: [], consoleErrors: [], logErrors: [], network: [] });
        expect(read.ready).to.equal('charts');
        const ids = [...new Set(results.scenarios.map((s) => s.id))];
        expect(read.rows).to.equal(ids.length);
        expect(read.byFilter.all).to.deep.equal(ids);
        expect(read.foldedAtFirst).to.deep.equal(ids.filter((id) => results.scenarios.some((s) => s.id === id && (s.outcome === 'failed' || s.outcome === 'error'))));
        expect(read.afterClicks).to.deep.equal(ids);
        for (const v of ['pass', 'warn', 'fail', 'error', 'skipped']) {
          expect(read.byFilter[v], v).to.deep.equal(ids.filter((id) => results.scenarios.some((s) => s.id === id && verdictOf(s) === v)));
        }
        const specs = chartSpecs(results);
        expect(read.charts.map((c) => c.id)).to.deep.equal(specs.map((s) => s.id));
        for (const c of read.charts) {
          expect(c.drawn, c.id).to.equal(true);
          expect(c.points, c.id).to.be.above(0);
          expect(c.inked, `${c.id} has ink`).to.be.above(1000);
          expect(c.width, c.id).to.be.above(300);
        }
        await then?.(page);
        return read;
      } finally {
        await page.close();
      }
    }

    it('renders every scenario and chart of a run with every verdict, and filters by verdict', async function () {
      const read = await check('verdicts', { ...repeatedRun(), scenarios: [...repeatedRun().scenarios, allVerdicts()[4]!] });
      expect(read.byFilter.warn).to.have.length(1);
    });

    it('renders a multi-board run, a compared run and a firmware run', async function () {
      await check('boards', boardsRun());
      await check('compared', comparedRun());
      const fw = await check('firmware', firmwareRun());
      expect(fw.charts.map((c) => c.id)).to.include('chart-backoff');
    });

    it('runs nothing a device printed, and its policy would stop a script that got in', async function () {
      const read = await check('hostile', hostileRun(), async (page) => {
        const ran = await page.evaluate<boolean>(`(() => {
          const s = document.createElement('script');
          s.textContent = 'window.__injected = true';
          document.body.appendChild(s);
          return window.__injected === true;
        })()`);
        expect(ran).to.equal(false);
        expect(page.problems.logErrors.join('\n')).to.match(/Content Security Policy/);
      });
      expect(read.title).to.not.include('pwned');
      expect(read.injected).to.equal(0);
    });

    it('would notice a request for the network (the check can fail)', async function () {
      const page = await open('fetches', '<!doctype html><title>t</title><img src="http://example.invalid/x.png"><p>x</p>');
      try {
        expect(page.problems.network).to.deep.equal(['http://example.invalid/x.png']);
      } finally {
        await page.close();
      }
    });

    it('is written by a real run next to the other reports, and opens', async function () {
      const { dir: work, remove: removeWork } = await tempDir('hilt-html-run-');
      try {
        const catalogue = (name: string) => join(REPO, 'scenarios', name);
        const ran = await hilt(['run', '--target', 'emulator:', '--repeat', '3', catalogue('02-expired-server-certificate.spec.ts'), catalogue('07-wrong-hostname.spec.ts')], { cwd: work, timeoutMs: 60_000 });
        expect(ran.code, ran.stderr).to.equal(0);
        expect(ran.stdout).to.match(/report: .*\/report\.html, summary\.md, results\.json, junit\.xml/);
        const latest = join(work, 'reports', 'latest');
        const results = JSON.parse(await readFile(join(latest, 'results.json'), 'utf8')) as RunResults;
        expect(results.scenarios.every((s) => s.repetitions === 3)).to.equal(true);
        // The refused handshake's excerpt holds the device's result with its code names.
        const refused = results.scenarios.find((s) => s.id.startsWith('02-'))!;
        expect(refused.console!.lines.join('\n')).to.include('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
        const read = await check('run', results);
        expect(read.rows).to.equal(results.scenarios.length);
        const written = await openInChromium(join(latest, 'report.html'));
        try {
          expect(written.problems).to.deep.equal({ exceptions: [], consoleErrors: [], logErrors: [], network: [] });
          expect(await written.evaluate<string>('document.documentElement.dataset.hiltReady')).to.equal('charts');
          expect(await written.evaluate<string[]>('[...document.querySelectorAll("tbody.scenario")].map((r) => r.dataset.id)'))
            .to.deep.equal(results.scenarios.map(resultKey));
          expect(await written.evaluate<number>('document.querySelectorAll("#security li[data-severity]").length')).to.be.above(0);
        } finally {
          await written.close();
        }
      } finally {
        await removeWork();
      }
    });
  });
});
