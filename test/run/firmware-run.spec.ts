/**
 * `hilt run` in firmware mode, end to end as a user runs it: what runs by default, and runs whose
 * scenarios do not fit the target's mode.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePki } from '../../harness/pki/index.ts';
import { REPO, hilt, latestResults as results, tempDir, writeScenario } from '../helpers.ts';
import { freePort, tcpFirmware, writeFirmwareScenario } from './firmware-doubles.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

describe('hilt run in firmware mode', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-fw-run-'));
  });
  afterEach(() => remove());

  it('an agent scenario on a firmware target stops before anything starts: one line, exit 2', async function () {
    const { code, stderr, stdout } = await hilt(['run', '--target', 'tcp:127.0.0.1:9?mode=firmware', HAPPY], { cwd: dir });
    expect(code).to.equal(2);
    expect(stderr).to.match(/^hilt: hilt\/scenarios\/01-mtls-happy-path\.spec\.ts: ".*" is an agent scenario, and target tcp:127\.0\.0\.1:9\?mode=firmware is in firmware mode: firmware targets run firmwareScenario\(\) files \(scenarios\/firmware\/\): name those, or use an agent target\n$/);
    expect(stdout).to.equal('');
    // Stopped before the report folder, the lab or the device: nothing was made.
    expect(existsSync(join(dir, 'reports'))).to.equal(false);
  });

  it('a firmware scenario on an agent target stops the same way', async function () {
    const file = await writeFirmwareScenario(dir, 'connect.spec.ts', `
firmwareScenario('MQTT Connect', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await ctx.until('a CONNECT', (attempts) => attempts.find((a) => a.mqtt));
});`);
    const { code, stderr } = await hilt(['run', '--target', 'emulator', file], { cwd: dir });
    expect(code).to.equal(2);
    expect(stderr).to.match(/^hilt: connect\.spec\.ts: "MQTT Connect" is a firmware scenario, and target emulator is in agent mode: give a target in firmware mode \(\?mode=firmware, or emulator:\?firmware=app\), or name agent scenario files\n$/);
  });

  it('agent scenario files written with plain it() still run on agent targets', async function () {
    const file = await writeScenario(dir, 'plain.spec.ts', `it('plain mocha', () => { expect(1).to.equal(1); });`);
    const { code, stdout } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stdout).to.equal(0);
  });

  describe('with the lab\'s endpoint', function () {

    const CONNECT = `
firmwareScenario('MQTT Connect', { endpoint: { tls: { server: 'server-valid' } }, boundMs: 20000 }, async (ctx) => {
  const a = await ctx.until('a CONNECT', (attempts) => attempts.find((x) => x.mqtt));
  expect(a.tls?.outcome).to.equal('ok');
  ctx.warn('keepalive not checked by this test scenario');
});`;

    it('a board behind a TCP port, no reset: its own next attempt is the known state; verdicts, warnings and identity in every report', async function () {
      const pki = await ensurePki({ dir: join(dir, 'certs'), devices: ['esp32-hilt'] });
      const endpointPort = await freePort();
      const own = pki.material('device/esp32-hilt');
      const board = await tcpFirmware({ uri: `mqtts://127.0.0.1:${endpointPort}`, ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: 'esp32-hilt', retryMs: 200 });
      try {
        await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: `tcp:127.0.0.1:${board.port}?mode=firmware`, certsDir: 'certs', endpoint: { port: endpointPort } }));
        await writeFirmwareScenario(dir, 'connect.spec.ts', CONNECT);
        const { code, stdout, stderr } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
        expect(code, stdout + stderr).to.equal(0);
        const r = await results(dir);
        const [s] = r.scenarios;
        expect(s).to.include({ outcome: 'passed' });
        expect(s!.warnings).to.deep.equal(['keepalive not checked by this test scenario']);
        expect(s!.attempts.some((a) => a.listener === 'endpoint' && (a.mqtt as { clientId: string } | null)?.clientId === 'esp32-hilt'), JSON.stringify(s!.attempts)).to.equal(true);
        expect(r.run.firmware).to.include({ project: 'tiny_mqtt', version: '0.0.1', idf: 'v5.5', elfSha256: '0123abcd', agent: 'none (firmware mode)' });
        expect(await readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8')).to.include('✅ pass (1 warning)');
        expect(await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8')).to.include('<property name="warning" value="keepalive not checked by this test scenario"/>');
      } finally {
        await board.close();
      }
    });

    it('a panic outside any scenario (a stack overflow as the port opened) fails none, and is a warning of the run naming the task', async function () {
      const pki = await ensurePki({ dir: join(dir, 'certs'), devices: ['esp32-hilt'] });
      const endpointPort = await freePort();
      const own = pki.material('device/esp32-hilt');
      const board = await tcpFirmware({
        uri: `mqtts://127.0.0.1:${endpointPort}`, ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: 'esp32-hilt', retryMs: 200,
        before: ['***ERROR*** A stack overflow in task sensor poll has been detected.', '', 'Backtrace: 0x40081f4a:0x3ffc5e90 |<-CORRUPTED', 'Rebooting...'],
      });
      try {
        await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: `tcp:127.0.0.1:${board.port}?mode=firmware`, certsDir: 'certs', endpoint: { port: endpointPort } }));
        await writeFirmwareScenario(dir, 'connect.spec.ts', CONNECT);
        const { code, stdout, stderr } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
        expect(code, stdout + stderr).to.equal(0);
        const warning = 'the device panicked outside any scenario (before the first): device stack overflow: stack overflow in task sensor poll ' +
          '("***ERROR*** A stack overflow in task sensor poll has been detected.")';
        expect(stderr).to.include(`hilt: warning: ${warning}`);
        const r = await results(dir);
        expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['passed']);
        expect(r.run.warnings).to.deep.equal([warning]);
        const latest = join(dir, 'reports', 'latest');
        for (const file of ['summary.md', 'junit.xml', 'report.html']) {
          expect(await readFile(join(latest, file), 'utf8'), file).to.include('stack overflow in task sensor poll');
        }
      } finally {
        await board.close();
      }
    });

    it('a board that stays connected, no reset: each scenario ends its connection, and the next scenario sees the board come back', async function () {
      const pki = await ensurePki({ dir: join(dir, 'certs'), devices: ['esp32-hilt'] });
      const endpointPort = await freePort();
      const own = pki.material('device/esp32-hilt');
      const board = await tcpFirmware({ uri: `mqtts://127.0.0.1:${endpointPort}`, ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: 'esp32-hilt', retryMs: 200 });
      try {
        await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: `tcp:127.0.0.1:${board.port}?mode=firmware`, certsDir: 'certs', endpoint: { port: endpointPort } }));
        await writeFirmwareScenario(dir, 'connect.spec.ts', CONNECT + CONNECT.replace("'MQTT Connect'", "'MQTT Connect again'") + CONNECT.replace("'MQTT Connect'", "'MQTT Connect a third time'"));
        const { code, stdout, stderr } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
        expect(code, stdout + stderr).to.equal(0);
        const r = await results(dir);
        expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['passed', 'passed', 'passed']);
        // Each scenario saw a connection of its own: the one before was ended with its scenario.
        const ids = r.scenarios.map((s) => (s.attempts.find((a) => a.mqtt) as { id: number } | undefined)?.id);
        expect(new Set(ids).size, JSON.stringify(ids)).to.equal(3);
      } finally {
        await board.close();
      }
    });

    it('an MQTT 5 board: an error naming the protocol and the build setting, not a verdict against the firmware', async function () {
      const pki = await ensurePki({ dir: join(dir, 'certs'), devices: ['esp32-hilt'] });
      const endpointPort = await freePort();
      const own = pki.material('device/esp32-hilt');
      const board = await tcpFirmware({ uri: `mqtts://127.0.0.1:${endpointPort}`, ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: 'esp32-hilt', retryMs: 200, protocolVersion: 5 });
      try {
        await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: `tcp:127.0.0.1:${board.port}?mode=firmware`, certsDir: 'certs', endpoint: { port: endpointPort } }));
        await writeFirmwareScenario(dir, 'connect.spec.ts', CONNECT);
        const { code } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
        const [s] = (await results(dir)).scenarios;
        expect(s!.outcome, JSON.stringify(s)).to.equal('error');
        expect(s!.failure!.message).to.match(/^the device connects with MQTT 5 \(attempt \d+\), and hilt's endpoint speaks MQTT 3\.1\.1 only: build the test firmware with CONFIG_MQTT_PROTOCOL_311/);
        expect(code).to.equal(3);
      } finally {
        await board.close();
      }
    });

    it('the emulated application: provisioned by the run, reset before each scenario', async function () {
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: 'emulator:?firmware=app', endpoint: { port: 0 } }));
      await writeFirmwareScenario(dir, 'connect.spec.ts', CONNECT + CONNECT.replace("'MQTT Connect'", "'MQTT Connect after a reset'"));
      const { code, stdout, stderr } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
      expect(code, stdout + stderr).to.equal(0);
      const r = await results(dir);
      expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['passed', 'passed']);
      expect(r.run.firmware).to.include({ project: 'hilt_mqtt_app', version: '1.0.0' });
      // Each scenario's log has the boot banner of the reset that began it.
      for (const s of r.scenarios) expect(await readFile(join(dir, 'reports', 'latest', s.consoleLog!), 'utf8')).to.include('POWERON_RESET');
    });

    it('with no scenario files named, a firmware target runs scenarios/firmware/', async function () {
      // (any free port: the default 8883 may be taken on a shared machine)
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ endpoint: { port: 0 } }));
      // (one scenario of it: the whole catalogue is the catalogue's own tests' business)
      const { code, stdout, stderr } = await hilt(['run', '--target', 'emulator:?firmware=app', '--grep', '^TLS Connect$'], { cwd: dir, timeoutMs: 60_000 });
      const r = await results(dir);
      expect(r.scenarios.map((s) => s.file)).to.deep.equal(['hilt/scenarios/firmware/01-tls.spec.ts']);
      expect(r.scenarios[0]!.outcome, stdout + stderr).to.equal('passed');
      expect(code).to.equal(0);
    });
  });
});

