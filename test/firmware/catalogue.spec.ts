/**
 * The firmware catalogue (scenarios/firmware/) against the emulated application firmware, through
 * `hilt run` as a user runs it: the good app (AWS's backoff with jitter, CI time scale) passes
 * every scenario, with the warnings the verdict table gives an ESP-IDF default build; each defect
 * of the app fails, or warns, the scenario that names it.
 *
 * Each run is a child process with its own lab; the PKI is issued once for all of them.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScenarioResult } from '../../harness/report/model.ts';
import { hilt, latestResults, tempDir } from '../helpers.ts';

/** How the catalogue sees a result: pass, pass with warnings, fail (or skipped / error). */
type Seen = 'pass' | 'warn' | 'fail' | 'skipped' | 'error';
const seen = (r: ScenarioResult): Seen =>
  r.outcome === 'passed' ? (r.warnings?.length ? 'warn' : 'pass') : r.outcome === 'failed' ? 'fail' : r.outcome;

/** The good app: esp-mqtt's client with AWS's backoff and jitter, timed for CI. */
const GOOD = { timeScale: 0.05, keepaliveS: 20, reconnect: { policy: 'backoff-jitter' } };

/** Bounds for CI: the keepalive rule (1.5 × the CONNECT's 20 s) would wait longer than the scaled app needs. */
const CONFIG = { firmware: { scenarios: { 'MQTT Keepalive (no PINGRESP)': { boundMs: 4000 } } } };

describe('firmware catalogue against the emulated app', function () {
  this.timeout(240_000);
  let dir = '';
  let remove = async () => {};
  let runs = 0;

  before(async () => {
    ({ dir, remove } = await tempDir('hilt-catalogue-'));
  });
  after(() => remove());

  /**
   * One `hilt run` of the scenarios matching `grep` against the app with `settings`; `attempts`
   * shortens the backoff scenarios where a class shows in fewer (a fixed or strict series).
   */
  async function run(settings: object, grep: string, attempts?: number): Promise<{ code: number; stderr: string; verdicts: Record<string, Seen>; results: ScenarioResult[] }> {
    const file = join(dir, `app-${++runs}.json`);
    await writeFile(file, JSON.stringify(settings));
    const config = join(dir, `config-${runs}.json`);
    const scenarios: Record<string, object> = { ...CONFIG.firmware.scenarios };
    if (attempts) for (const t of ['MQTT Connect Backoff (no CONNACK)', 'MQTT Reconnect Backoff (server disconnect)']) scenarios[t] = { attempts };
    // Port 0: any free port (the app is told the endpoint's URI), so runs never collide on 8883.
    await writeFile(config, JSON.stringify({ endpoint: { port: 0 }, firmware: { scenarios } }));
    const ran = await hilt(['run', '--target', `emulator:?firmware=app&settings=${file}`, '--grep', grep, '--certs', join(dir, 'certs'), '--config', config],
      { cwd: dir, timeoutMs: 200_000 });
    expect(ran.code, ran.stderr).to.be.oneOf([0, 1]);
    const results = (await latestResults(dir)).scenarios;
    return { code: ran.code, stderr: ran.stderr, results, verdicts: Object.fromEntries(results.map((r) => [r.title, seen(r)])) };
  }

  const why = (results: ScenarioResult[]) => results.map((r) => `${r.title}: ${r.failure?.message ?? [...(r.warnings ?? []), ...(r.notes ?? [])].join(' | ')}`).join('\n');

  it('the good app passes every scenario; ESP-IDF\'s default suites (CBC among them) are the only warnings', async () => {
    const { verdicts, results } = await run(GOOD, '^(?!.*(Reconnect After Success|Persistent Session))');
    expect(verdicts, why(results)).to.deep.equal({
      'TLS Connect': 'pass',
      'TLS Cipher Suites': 'warn',
      'TLS Weak Cipher Suites (hilt)': 'warn',
      'TLS Large Server Certificate': 'pass',
      'TLS Untrusted Server Certificate': 'pass',
      'TLS Wrong Host Name': 'pass',
      'TLS Expired Server Certificate': 'pass',
      'TLS Not Yet Valid Server Certificate': 'pass',
      'TLS CA Rotation': 'pass',
      'MQTT Connect': 'pass',
      'MQTT Connect Backoff (no CONNACK)': 'pass',
      'MQTT Reconnect Backoff (server disconnect)': 'pass',
      'MQTT Publish': 'pass',
      'MQTT Publish Retry (no PUBACK)': 'pass',
      'MQTT Subscribe': 'pass',
      'MQTT Subscribe Retry (no SUBACK)': 'pass',
      'MQTT QoS 1 Delivery (PUBACK)': 'pass',
      'MQTT Large Payload': 'pass',
      'MQTT Keepalive (no PINGRESP)': 'pass',
      'MQTT Expired Session': 'pass',
      'Broker Restart (hilt)': 'pass',
    });
    const backoff = results.find((r) => r.title === 'MQTT Connect Backoff (no CONNACK)')!;
    expect(backoff.notes?.join('\n')).to.match(/^exponential backoff with jitter \(class exponential-jitter; intervals [\d, ]+ ms;/);
  });

  it('the good app waits >= 1 s after a session the broker closed (its first wait unscaled: 1-2 s)', async () => {
    const { verdicts, results } = await run({ ...GOOD, reconnect: { policy: 'backoff-jitter', baseMs: 20_000 } }, 'Reconnect After Success');
    expect(verdicts, why(results)).to.deep.equal({ 'MQTT Reconnect After Success': 'pass' });
  });

  it('the good app with a persistent session resumes it without subscribing again', async () => {
    const { verdicts, results } = await run({ ...GOOD, cleanSession: false }, 'Persistent Session');
    expect(verdicts, why(results)).to.deep.equal({ 'MQTT Persistent Session': 'pass' });
  });

  it('esp-mqtt\'s own policy (a fixed 10 s) fails both backoff scenarios', async () => {
    const { verdicts, results } = await run({ ...GOOD, reconnect: { policy: 'esp-mqtt' } }, 'Backoff', 5);
    expect(verdicts, why(results)).to.deep.equal({ 'MQTT Connect Backoff (no CONNACK)': 'fail', 'MQTT Reconnect Backoff (server disconnect)': 'fail' });
    expect(results[0]!.failure!.message).to.match(/^constant reconnect interval \(class constant; intervals/);
  });

  /**
   * The backoff rows run at twice the CI time scale: their verdicts rest on the shape of 50-800 ms
   * intervals, and a loaded machine's scheduling noise (tens of ms) can bend a short line into a
   * curve. Doubled, the same noise is half the share of each interval.
   */
  const BACKOFF_SCALE = { timeScale: 0.1 };

  /** Each defect of the app, the scenarios that must catch it, and how. */
  const DEFECTS: Array<{ defect: string; grep: string; want: Record<string, Seen>; why: RegExp; settings?: object; attempts?: number }> = [
    { defect: 'no-verify', grep: 'Untrusted', want: { 'TLS Untrusted Server Certificate': 'fail' }, why: /^accepted a certificate from an untrusted root/ },
    { defect: 'no-hostname-check', grep: 'Wrong Host', want: { 'TLS Wrong Host Name': 'fail' }, why: /^accepted a certificate for another host name/ },
    { defect: 'no-alert', grep: 'Expired Server|Not Yet Valid', want: { 'TLS Expired Server Certificate': 'warn', 'TLS Not Yet Valid Server Certificate': 'warn' }, why: /without an alert|closing with a TCP/ },
    { defect: 'constant-backoff', grep: 'Backoff', want: { 'MQTT Connect Backoff (no CONNACK)': 'fail', 'MQTT Reconnect Backoff (server disconnect)': 'fail' }, why: /^constant reconnect interval/, settings: BACKOFF_SCALE, attempts: 6 },
    { defect: 'linear-backoff', grep: 'Backoff', want: { 'MQTT Connect Backoff (no CONNACK)': 'fail', 'MQTT Reconnect Backoff (server disconnect)': 'fail' }, why: /^linear backoff/, settings: BACKOFF_SCALE, attempts: 6 },
    { defect: 'no-jitter', grep: 'Backoff', want: { 'MQTT Connect Backoff (no CONNACK)': 'warn', 'MQTT Reconnect Backoff (server disconnect)': 'warn' }, why: /^strictly exponential backoff without jitter/, settings: BACKOFF_SCALE, attempts: 6 },
    { defect: 'new-packet-id-on-retry', grep: 'Publish Retry', want: { 'MQTT Publish Retry (no PUBACK)': 'fail' }, why: /never resent unacknowledged id|new packet id/ },
    { defect: 'no-pingreq-while-busy', grep: 'Keepalive', want: { 'MQTT Keepalive (no PINGRESP)': 'fail' }, why: /^still connected/ },
    { defect: 'resubscribe-on-session', grep: 'Persistent Session', want: { 'MQTT Persistent Session': 'fail' }, why: /^subscribed again .* although the endpoint said session-present 1/, settings: { cleanSession: false } },
    { defect: 'small-in-buffer', grep: 'Large', want: { 'TLS Large Server Certificate': 'fail', 'MQTT Large Payload': 'fail' }, why: /CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN|dropped the connection|lost the connection/ },
  ];

  it('defect stack-overflow, chosen on the target: the large message crashes mqtt_task; a panic naming the task in every report, the small one passes', async () => {
    const config = join(dir, 'config-stack.json');
    await writeFile(config, JSON.stringify({ endpoint: { port: 0 } }));
    const ran = await hilt(['run', '--target', 'emulator:?firmware=app&defect=stack-overflow', '--grep', 'QoS 1 Delivery|Large Payload', '--certs', join(dir, 'certs'), '--config', config],
      { cwd: dir, timeoutMs: 200_000 });
    expect(ran.code, ran.stderr).to.equal(1);
    const results = (await latestResults(dir)).scenarios;
    expect(Object.fromEntries(results.map((r) => [r.title, seen(r)])), why(results)).to.deep.equal({ 'MQTT QoS 1 Delivery (PUBACK)': 'pass', 'MQTT Large Payload': 'fail' });
    const large = results.find((r) => r.title === 'MQTT Large Payload')!;
    expect(large.failure, why(results)).to.include({ kind: 'panic' });
    expect(large.failure!.message).to.match(/^device stack overflow: stack overflow in task mqtt_task \("\*\*\*ERROR\*\*\* A stack overflow in task mqtt_task has been detected\."\)$/);
    const latest = join(dir, 'reports', 'latest');
    for (const file of ['summary.md', 'junit.xml', 'report.html']) {
      expect(await readFile(join(latest, file), 'utf8'), file).to.include('stack overflow in task mqtt_task');
    }
    // The board rebooted as a real one does after the panic, and its console log shows it all.
    const log = await readFile(join(latest, large.consoleLog!), 'utf8');
    expect(log).to.match(/\*\*\*ERROR\*\*\* A stack overflow in task mqtt_task has been detected\.\n[^]*Backtrace: 0x[^]*Rebooting\.\.\.\n[^]*rst:0xc \(SW_CPU_RESET\)/);
  });

  for (const d of DEFECTS) {
    it(`defect ${d.defect}: ${Object.entries(d.want).map(([t, v]) => `${t} ${v === 'warn' ? 'warns' : 'fails'}`).join(', ')}`, async () => {
      const { verdicts, results } = await run({ ...GOOD, ...d.settings, defects: [d.defect] }, d.grep, d.attempts);
      expect(verdicts, why(results)).to.deep.equal(d.want);
      for (const r of results) expect(r.failure?.message ?? r.warnings?.join(' '), r.title).to.match(d.why);
    });
  }
});
