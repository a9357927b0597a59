/**
 * Faults of the report views: a device whose identity and console carry markup, colour codes and
 * bytes that are not UTF-8, through a real `hilt run` (every report still well-formed, the page
 * inert in Chromium); console logs that cannot be used for an excerpt; a results.json from
 * before the release-workflow fields; garbage figures.
 */
import { expect } from 'chai';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toReportHtml } from '../../harness/report/html.ts';
import { toJUnitXml, toSummaryMarkdown, writeReports, type RunResults } from '../../harness/report/index.ts';
import { hilt, latestResults, scriptedAgent, SCRIPTED_HELLO, tempDir, writeScenario, type ScriptedAgent } from '../helpers.ts';
import { chromiumMissing, openInChromium } from '../report/chromium.ts';
import { runResults, scenarios, XSS } from '../report/fixtures.ts';
import { all, parseXml } from '../report/xml.ts';

describe('faults: reports', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  const agents: ScriptedAgent[] = [];
  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-faults-reports-'));
  });
  afterEach(async function () {
    for (const a of agents.splice(0)) a.close();
    await remove();
  });

  it('a device that prints markup, colour codes and broken UTF-8: every report well-formed, report.html inert', async function () {
    const hello = { ...SCRIPTED_HELLO, fw: { ...SCRIPTED_HELLO.fw, project: `fw${XSS}`, version: '1.0</title><script>alert(1)</script>' } };
    const agent = await scriptedAgent((command, _reply, socket, id) => {
      if (command === 'hello') {
        socket.write(`@hil ${id} ok ${JSON.stringify(hello)}\n`);
        return true;
      }
      if (command !== 'heap.stats') return false;
      socket.write(Buffer.concat([
        Buffer.from(`\u001b[0;31mE (42) app: ${XSS} \u0007`),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('\u001b[0m\n'),
      ]));
      socket.write(`@hil ${id} ok ${JSON.stringify(SCRIPTED_HELLO.heap)}\n`);
      return true;
    });
    agents.push(agent);
    const file = await writeScenario(dir, 'hostile.spec.ts', `
scenario('reads the heap <b>bold</b>', async (ctx) => {
  await ctx.device.command('heap.stats');
  expect('a device that printed <script>').to.equal('a quiet device');
});`);
    const { code, stderr } = await hilt(['run', file, '--target', agent.target], { cwd: dir, timeoutMs: 40_000 });
    expect(code, stderr).to.equal(1);
    const latest = join(dir, 'reports', 'latest');
    const r = await latestResults(dir);
    // The excerpt holds the device's line, colours gone, and names why it was chosen.
    expect(r.scenarios[0]!.console!.reason).to.match(/E lines/);
    expect(r.scenarios[0]!.console!.lines.join('\n')).to.include(`E (42) app: ${XSS}`).and.not.include('\u001b[0;31m');

    const junit = await readFile(join(latest, 'junit.xml'), 'utf8');
    const failure = all(parseXml(junit), 'failure')[0]!;
    expect(failure.text).to.include(`E (42) app: ${XSS}`);

    const page = await readFile(join(latest, 'report.html'), 'utf8');
    expect(page).to.not.include('<img src=x');
    expect(page).to.not.include('<script>alert(1)');
    expect(page).to.include('\\x07');
    if (chromiumMissing) {
      console.log(`    (${chromiumMissing}: report.html not opened)`);
      return;
    }
    const opened = await openInChromium(join(latest, 'report.html'));
    try {
      expect(opened.problems).to.deep.equal({ exceptions: [], consoleErrors: [], logErrors: [], network: [] });
      expect(await opened.evaluate<string>('document.documentElement.dataset.hiltReady')).to.equal('charts');
      expect(await opened.evaluate<number>('document.querySelectorAll("img").length + document.scripts.length')).to.equal(3);
      expect(await opened.evaluate<string>('document.title')).to.include('fw<img src=x');
      expect(await opened.evaluate<string>('document.querySelector("pre.console").textContent')).to.include(`E (42) app: ${XSS}`);
    } finally {
      await opened.close();
    }
  });

  it('console logs that cannot give an excerpt (a folder, a link out of the run, missing): the reports are written without one', async function () {
    const results = runResults();
    const runDir = join(dir, 'run');
    await mkdir(join(runDir, 'console'), { recursive: true });
    await mkdir(join(runDir, results.scenarios[0]!.consoleLog!));
    await writeFile(join(dir, 'secret.log'), 'E (1) app: outside the run folder\n');
    await symlink(join(dir, 'secret.log'), join(runDir, results.scenarios[1]!.consoleLog!));
    const paths = await writeReports(results, runDir, dir);
    const written = JSON.parse(await readFile(paths.results, 'utf8')) as RunResults;
    expect(written.scenarios.map((s) => s.console)).to.deep.equal([undefined, undefined, undefined, undefined]);
    // (a link the run did not make, to a file outside its folder: not read)
    expect(await readFile(paths.html, 'utf8')).to.not.include('outside the run folder');
  });

  it('a results.json from before the release-workflow fields, and figures that are not numbers, still make every view', function () {
    const list = scenarios();
    for (const s of list) {
      delete (s as { notes?: unknown }).notes;
      delete (s as { warnings?: unknown }).warnings;
    }
    list[0]!.metrics[0]!.values = [Number.NaN, Number.POSITIVE_INFINITY];
    list[0]!.metrics[0]!.median = Number.NaN;
    list[0]!.metrics[0]!.p95 = Number.NaN;
    const old = runResults({}, list);
    delete (old.run as { warnings?: unknown }).warnings;
    delete (old.run as { notes?: unknown }).notes;
    // (Chart.js's own source says NaN: only the page's markup and chart data are looked at)
    const page = toReportHtml(old).replace(/<script>[\s\S]*?<\/script>/g, '');
    expect(page).to.include('<tbody class="scenario"');
    expect(page).to.not.include('NaN');
    expect(page).to.not.include('Infinity');
    expect(() => parseXml(toJUnitXml(old))).to.not.throw();
    expect(toSummaryMarkdown(old)).to.not.include('NaN');
  });
});
