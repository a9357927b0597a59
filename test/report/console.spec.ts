/** The console excerpt: the lines that mattered to a verdict, read from the scenario's log when the reports are written. */
import { expect } from 'chai';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseExcerpt, MAX_LINES, MAX_READ_BYTES, readLogLines, withConsoleExcerpts } from '../../harness/report/console.ts';
import { toJUnitXml, writeReports, type ScenarioResult } from '../../harness/report/index.ts';
import { tempDir } from '../helpers.ts';
import { runResults, scenarios } from './fixtures.ts';
import { all, parseXml } from './xml.ts';

const stamp = (i: number) => `[${(i / 1000).toFixed(3).padStart(8)}] `;
/** A console log as ConsoleLog writes it: a header line, then stamped lines. */
const log = (lines: string[]) => ['# emulated ESP32 esp32-000001, started 2026-12-01T05:22:02.271Z', ...lines.map((l, i) => stamp(i) + l)];
const filler = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `I (${from + i}) sensor: reading ${from + i}`);
const failed: Pick<ScenarioResult, 'outcome' | 'failure'> = { outcome: 'failed', failure: { kind: 'assertion', message: 'expected the device to connect' } };
const passed: Pick<ScenarioResult, 'outcome' | 'failure'> = { outcome: 'passed', failure: null };

describe('console excerpt', function () {
  it('centres on the E lines of a refused handshake, with the connect command and the result', function () {
    const lines = log([
      ...filler(40),
      '> @hil 41 mqtt.connect host=127.0.0.1 port=41857 ca=ca cert=cert key=key client_id=esp32-000001',
      'E (19) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700',
      'I (19) esp-tls-mbedtls: Failed to verify peer certificate!',
      'E (19) esp-tls: Failed to open new connection',
      '@hil 41 ok {"connected":false,"error":{"esp_err_name":"ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED","stack_err_name":"MBEDTLS_ERR_X509_CERT_VERIFY_FAILED"}}',
      ...filler(40, 100),
    ]);
    const e = chooseExcerpt(lines, 1, failed)!;
    expect(e.lines[0]).to.equal(lines[e.firstLine - 1]);
    // 3 lines of context each side of what mattered, and nothing more.
    expect(e.firstLine).to.equal(1 + 1 + 40 - 3);
    expect(e.lines).to.have.length(3 + 5 + 3);
    expect(e.lines.some((l) => l.includes('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED'))).to.equal(true);
    expect(e.reason).to.equal("the device's connect result, E lines, esp-tls lines, the connect command");
  });

  it('prefers a panic to E lines elsewhere in the log, and lines the failure quotes to plain E lines', function () {
    const lines = log([
      'E (5) wifi: something earlier',
      ...filler(60),
      "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
      'Backtrace: 0x400d1234:0x3ffb0000',
      ...filler(60, 100),
    ]);
    const e = chooseExcerpt(lines, 1, failed)!;
    expect(e.reason).to.match(/^a panic/);
    expect(e.lines.join('\n')).to.include('Guru Meditation').and.not.include('something earlier');

    const quoted = log(['E (1) app: unrelated error', ...filler(50), 'I (2) app: state=READY', ...filler(50, 200)]);
    const q = chooseExcerpt(quoted, 1, { outcome: 'failed', failure: { kind: 'timeout', message: 'no line matching "state=READY" within 5000 ms' } })!;
    expect(q.reason).to.equal('what the failure names');
    expect(q.lines.join('\n')).to.include('state=READY').and.not.include('unrelated error');
  });

  it('never shows more than MAX_LINES lines, however many lines matter', function () {
    const lines = log(Array.from({ length: 200 }, (_, i) => `E (${i}) app: error ${i}`));
    const e = chooseExcerpt(lines, 1, failed)!;
    expect(e.lines).to.have.length(MAX_LINES);
    // The failure is at the end: the last lines that matter are the ones shown.
    expect(e.lines.at(-1)).to.include('error 199');
  });

  it('shows the end of the log for a failure with nothing that stands out, and nothing for a quiet pass', function () {
    const lines = log(filler(50));
    const e = chooseExcerpt(lines, 1, failed)!;
    expect(e.firstLine).to.equal(lines.length - 10 + 1);
    expect(e.reason).to.match(/last lines/);
    expect(chooseExcerpt(lines, 1, passed)).to.equal(null);
  });

  it('elides provisioning data and colour codes, and cuts a very long line', function () {
    const base64 = 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t'.repeat(20);
    const lines = log([
      `> @hil 38 store.put slot=ca kind=ca data=${base64} part=1/1`,
      '\u001b[0;31mE (19) esp-tls: Failed to open new connection\u001b[0m',
      `W (20) app: ${'x'.repeat(5000)}`,
    ]);
    const e = chooseExcerpt(lines, 1, failed)!;
    const text = e.lines.join('\n');
    expect(text).to.include(`data=(${base64.length} characters of base64) part=1/1`);
    expect(text).to.not.include(base64.slice(0, 40));
    expect(text).to.include('E (19) esp-tls: Failed to open new connection');
    expect(text).to.not.include('\u001b');
    expect(e.lines.at(-1)!.length).to.be.below(1_100);
    expect(e.lines.at(-1)).to.match(/… \(\d+ more characters\)$/);
  });

  it('reads only the end of a huge log and still numbers its lines right', async function () {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'big.log');
      const line = `${'I (1) app: '.padEnd(99, 'y')}\n`;
      const count = Math.ceil((MAX_READ_BYTES * 1.5) / line.length);
      await writeFile(path, line.repeat(count) + 'E (2) app: the end\n');
      const { lines, firstLineNo } = await readLogLines(path);
      expect(firstLineNo + lines.length - 1).to.equal(count + 1);
      expect(lines.at(-1)).to.equal('E (2) app: the end');
      expect(lines.length * line.length).to.be.at.most(MAX_READ_BYTES);
      const e = chooseExcerpt(lines, firstLineNo, failed)!;
      expect(e.firstLine + e.lines.length - 1).to.equal(count + 1);
      // Counting the lines before the end is what takes time; past its deadline it gives up.
      const late = await readLogLines(path, performance.now() - 1).then(() => null, (err: Error) => err);
      expect(late?.message).to.match(/took too long/);
    } finally {
      await remove();
    }
  });

  describe('when the reports are written', function () {
    let root: string;
    let remove: () => Promise<void>;
    beforeEach(async function () {
      ({ dir: root, remove } = await tempDir('hilt-excerpt-'));
    });
    afterEach(() => remove());

    it('puts the excerpt into results.json and a failure of junit.xml', async function () {
      const results = runResults();
      const runDir = join(root, results.run.id);
      await mkdir(join(runDir, 'console'), { recursive: true });
      await writeFile(join(runDir, results.scenarios[1]!.consoleLog!), `${log([...filler(5), 'E (9) esp-tls: handshake timed out', ...filler(2, 50)]).join('\n')}\n`);
      await writeReports(results, runDir, root);
      const json = JSON.parse(await readFile(join(runDir, 'results.json'), 'utf8')) as { scenarios: ScenarioResult[] };
      expect(json.scenarios[1]!.console).to.deep.include({ firstLine: 4, reason: 'E lines' });
      expect(json.scenarios[1]!.console!.lines[3]).to.equal(`${stamp(5)}E (9) esp-tls: handshake timed out`);
      // (the other logs are not there: no excerpt, and no failure of the reports)
      expect(json.scenarios[0]).to.not.have.property('console');
      const failure = all(parseXml(await readFile(join(runDir, 'junit.xml'), 'utf8')), 'failure')[0]!;
      expect(failure.text).to.equal('tls_ms <= 2000\nmeasured: 2450 ms\n\n\nconsole, lines 4-9 of console/05-handshake-budget.log (E lines):\n' +
        json.scenarios[1]!.console!.lines.join('\n'));
    });

    it('keeps an excerpt the results already carry (a merged run) and reads no log outside the run folder', async function () {
      const list = scenarios();
      list[0]!.console = { firstLine: 7, lines: ['kept'], reason: 'merged' };
      list[1]!.consoleLog = '../outside.log';
      list[2]!.consoleLog = '/etc/hostname';
      await writeFile(join(root, 'outside.log'), 'E (1) secret: not for this report\n');
      const out = await withConsoleExcerpts(runResults({}, list), join(root, 'run'));
      expect(out.scenarios[0]!.console).to.deep.equal({ firstLine: 7, lines: ['kept'], reason: 'merged' });
      expect(out.scenarios[1]).to.not.have.property('console');
      expect(out.scenarios[2]).to.not.have.property('console');
    });

    it('chooses no more excerpts once their time is up', async function () {
      const results = runResults();
      const runDir = join(root, 'run');
      await mkdir(join(runDir, 'console'), { recursive: true });
      await writeFile(join(runDir, results.scenarios[1]!.consoleLog!), `${log(['E (9) esp-tls: handshake timed out']).join('\n')}\n`);
      expect((await withConsoleExcerpts(results, runDir)).scenarios[1]!.console).to.not.equal(undefined);
      expect((await withConsoleExcerpts(results, runDir, 0)).scenarios[1]).to.not.have.property('console');
    });

    it('gives no excerpt for a log that cannot be read, and writes the reports all the same', async function () {
      const results = runResults();
      const runDir = join(root, results.run.id);
      // A folder where the log should be: reading it fails with EISDIR.
      await mkdir(join(runDir, results.scenarios[1]!.consoleLog!), { recursive: true });
      await writeReports(results, runDir, root);
      const junit = parseXml(await readFile(join(runDir, 'junit.xml'), 'utf8'));
      expect(all(junit, 'failure')[0]!.text).to.equal('tls_ms <= 2000\nmeasured: 2450 ms\n');
      expect(toJUnitXml(results)).to.not.include('console, lines');
    });
  });
});
