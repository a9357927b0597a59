/**
 * `--target native`: the whole wave-1 catalogue, run by `hilt run` as a user runs it, against the
 * host agent (hilt's agent in C on the real Mbed TLS 3.6, built for 32 bits as ESP-IDF v5.5
 * configures it). Skipped, with one line, without a C toolchain that builds -m32 programs.
 */
import { needToolchain } from './toolchain.ts';
import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { Device } from '../../harness/device/device.ts';
import { resolveTarget } from '../../harness/device/targets/index.ts';
import { UsageError } from '../../harness/errors.ts';
import { buildAgent, buildMbedtls } from '../../harness/native/build.ts';
import { certSpec } from '../../harness/pki/catalog.ts';
import { issue, type Material } from '../../harness/pki/issue.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { hilt, latestResults, REPO, tempDir } from '../helpers.ts';

describe('native target: options', () => {
  it('passes heap, largest and log_level to the agent; resets with the agent\'s reset command, as esp_restart on a board', () => {
    const target = resolveTarget('native:?heap=60000&largest=40000&log_level=4');
    expect(target).to.include({ kind: 'native', mode: 'agent', reset: 'agent' });
    expect(target.description).to.include('--heap 60000 --largest 40000 --log-level 4');
    expect(resolveTarget('native').description).to.not.include('--');
  });

  for (const [url, why] of [
    ['native:somewhere', /write options as native:\?heap=BYTES/],
    ['native:?heap=100', /heap=100: give a whole number from 16384 to 67108864/],
    ['native:?heap=1e5', /heap=1e5: give a whole number/],
    ['native:?log_level=6', /log_level=6: give a whole number from 0 to 5/],
    ['native:?sdkconfig=x', /unknown option "sdkconfig": this kind takes heap, largest, log_level/],
    ['native:?heap=20000&heap=30000', /heap given twice/],
  ] as const) {
    it(`refuses ${url}`, () => {
      expect(() => resolveTarget(url)).to.throw(UsageError, why);
    });
  }
});

describe('native target: hilt run --target native, the wave-1 catalogue', function () {
  this.timeout(900_000);
  let dir: { dir: string; remove: () => Promise<void> } | null = null;

  before(async function () {
    await needToolchain(this);
    // Built here (or found in the cache) so the run below is timed without it.
    await buildAgent(await buildMbedtls());
    dir = await tempDir('hilt-native-target-');
  });
  after(async () => { await dir?.remove(); });

  it('passes every scenario, or skips it saying why; heap and timing are the device\'s own', async () => {
    const ran = await hilt(['run', '--target', 'native', '--certs', join(dir!.dir, 'certs')], { cwd: dir!.dir, timeoutMs: 600_000 });
    expect(ran.code, ran.stdout + ran.stderr).to.equal(0);
    expect(ran.stderr, 'nothing on stderr when all is well').to.equal('');
    const results = await latestResults(dir!.dir);
    expect(results.run.target).to.equal('native');
    expect(results.run.infrastructureError).to.equal(null);
    // Every file of the catalogue ran: none is left out silently.
    const files = (await readdir(join(REPO, 'scenarios'))).filter((f) => f.endsWith('.spec.ts'));
    expect(files).to.have.length.greaterThanOrEqual(16);
    for (const file of files) {
      expect(results.scenarios.some((s) => s.file.endsWith(`scenarios/${file}`)), `${file} has a result`).to.equal(true);
    }
    for (const s of results.scenarios) {
      expect(s.outcome, `${s.title}: ${JSON.stringify(s.failure)}`).to.be.oneOf(['passed', 'skipped']);
      if (s.outcome === 'skipped') expect(JSON.stringify(s), `${s.title} says why it was skipped`).to.match(/skipped: \S/);
    }
    expect(results.totals.failed + results.totals.error).to.equal(0);
    // The heap figures are the library's real allocations, not the emulator's model.
    const happy = results.scenarios.find((s) => s.file.endsWith('01-mtls-happy-path.spec.ts') && s.outcome === 'passed')!;
    const peak = happy.metrics.find((m) => m.name === 'heap_peak_used')!;
    expect(peak.source).to.equal('device');
    expect(peak.values[0]).to.be.greaterThan(20_000);
    expect(results.run.security).to.include({ tls13: false });
    // Each scenario began from the agent's reset, which restarts it in place as esp_restart restarts a board.
    const consoles = join(dir!.dir, 'reports', 'latest', 'console');
    const logs = await readdir(consoles);
    expect(logs).to.have.length(results.scenarios.length);
    for (const log of logs) {
      expect(await readFile(join(consoles, log), 'utf8'), log).to.match(/> @hil \d+ reset\n(.*\n)*.*@hil \* boot \{"proto":1,"reason":"SW_CPU_RESET"\}/);
    }
  });
});

describe('native target: the clock past 2038, as an ESP32\'s 64-bit time_t holds it', function () {
  this.timeout(600_000);
  let device: Device | null = null;
  let server: tls.Server | null = null;
  let root: Material;

  before(async function () {
    await needToolchain(this);
    const agent = (await buildAgent(await buildMbedtls()))!;
    // A root and a broker certificate issued as if it were 2040: the broker's is valid from
    // 2039-12-31 only, so a clock held at 2038 finds it not yet valid.
    const in2040 = Date.UTC(2040, 0, 1);
    root = await issue(certSpec('root-current')!, null, [], in2040);
    const leaf = await issue(certSpec('server-valid')!, root, ['localhost', '127.0.0.1'], in2040);
    server = tls.createServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    device = await Device.open(new ProcessTransport({ command: agent.binary }));
  });
  after(async () => {
    await device?.close();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  });

  it('checks certificate dates against a clock set to 2040, with no warning', async () => {
    await device!.store('root2040', 'ca', root.cert);
    const epoch = Math.floor(Date.UTC(2040, 5, 1) / 1000);
    expect(await device!.command('time.set', { epoch })).to.include({ epoch, synced: true });
    const mark = device!.mark();
    const port = (server!.address() as AddressInfo).port;
    const result = await device!.connect('tls.connect', { host: '127.0.0.1', port, sni: 'localhost', ca: 'root2040' });
    expect(result.connected, JSON.stringify(result.error)).to.equal(true);
    await device!.command('tls.close');
    expect(device!.consoleSince(mark).join('\n')).to.not.match(/past 2038/);
  });
});
