/**
 * Faults of firmware mode, through real child processes of `bin/hilt.js run` against a board whose
 * firmware is a real MQTT client over TLS (served on a TCP port, as ser2net would): a reset command
 * that fails or hangs, a device that never connects; and, on a real lab listener, a device that
 * connects to the wrong port. Each: bounded, named in one line, the reports written.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FirmwareDevice } from '../../harness/device/firmware.ts';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import { defaultConfig } from '../../harness/run/config.ts';
import { FirmwareContext, NoAttemptError, type FirmwareSession } from '../../harness/run/firmware-session.ts';
import type { ScenarioRecord } from '../../harness/run/session.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import { hilt, latestResults, rejection, tempDir, withLab } from '../helpers.ts';
import { freePort, tcpFirmware, TinyFirmware, writeFirmwareScenario } from '../run/firmware-doubles.ts';
import { expectOneCleanLine } from './helpers.ts';

const DEVICE = 'esp32-hilt';

const TWO_SCENARIOS = `
firmwareScenario('MQTT Connect', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  const a = await ctx.until('a CONNECT', (attempts) => attempts.find((x) => x.mqtt));
  expect(a.tls?.outcome).to.equal('ok');
});
firmwareScenario('MQTT Connect again', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await ctx.until('a CONNECT', (attempts) => attempts.find((x) => x.mqtt));
});`;

describe('firmware mode faults', function () {
  this.timeout(60_000);

  describe('runs', function () {
    let dir: string;
    let remove: () => Promise<void>;
    let pki: Pki;
    let board: Awaited<ReturnType<typeof tcpFirmware>> | null = null;

    beforeEach(async function () {
      ({ dir, remove } = await tempDir('hilt-fw-faults-'));
      pki = await ensurePki({ dir: join(dir, 'certs'), devices: [DEVICE] });
    });
    afterEach(async function () {
      await board?.close();
      board = null;
      await remove();
    });

    /** A board whose firmware connects to `uri`, and a config for it; returns the endpoint's port. */
    async function bench(uri: (endpointPort: number) => string, extra: Record<string, unknown>): Promise<number> {
      const endpointPort = await freePort();
      const own = pki.material(`device/${DEVICE}`);
      board = await tcpFirmware({ uri: uri(endpointPort), ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: DEVICE, retryMs: 200 });
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({
        target: `tcp:127.0.0.1:${board.port}?mode=firmware`, certsDir: 'certs', endpoint: { port: endpointPort }, ...extra,
      }));
      await writeFirmwareScenario(dir, 'connect.spec.ts', TWO_SCENARIOS);
      return endpointPort;
    }

    it('a reset command that fails: each scenario an error naming the command, its exit code and stderr; the run goes on; exit 3', async function () {
      await bench((p) => `mqtts://127.0.0.1:${p}`, { reset: { command: 'echo "uhubctl: No compatible devices detected" >&2; exit 1', timeoutMs: 5000 } });
      const { code, stdout } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
      expect(code, stdout).to.equal(3);
      const r = await latestResults(dir);
      expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['error', 'error']);
      for (const s of r.scenarios) {
        expect(s.failure!.message).to.match(/^reset command "echo .*exit 1" \(hilt\.config\.json reset\.command\) exited with 1: uhubctl: No compatible devices detected: the board was not reset$/);
      }
      expect(existsSync(join(dir, 'reports', 'latest', 'junit.xml'))).to.equal(true);
    });

    it('a reset command that hangs is killed at its timeout, named, and the run goes on', async function () {
      await bench((p) => `mqtts://127.0.0.1:${p}`, { reset: { command: 'echo "waiting for hub" >&2; sleep 30', timeoutMs: 300 } });
      const started = Date.now();
      const { code } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
      expect(Date.now() - started).to.be.below(20_000);
      expect(code).to.equal(3);
      const r = await latestResults(dir);
      expect(r.scenarios).to.have.length(2);
      for (const s of r.scenarios) {
        expect(s.outcome).to.equal('error');
        expect(s.failure!.message).to.match(/did not finish within 300 ms and was killed: waiting for hub: check the command, or raise reset\.timeoutMs$/);
      }
    });

    it('a stack overflow mid-scenario whose line the reset cut (the ROM ran on into it): a panic naming what came of the task, not a wait to the bound; exit 1', async function () {
      const endpointPort = await freePort();
      const own = pki.material(`device/${DEVICE}`);
      board = await tcpFirmware({
        uri: `mqtts://127.0.0.1:${endpointPort}`, ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: DEVICE, retryMs: 200,
        onConnect: '\r\n***ERROR*** A stack overflow in task mqtt_tets Jul 29 2019 12:21:46\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n',
      });
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: `tcp:127.0.0.1:${board.port}?mode=firmware`, certsDir: 'certs', endpoint: { port: endpointPort } }));
      await writeFirmwareScenario(dir, 'crash.spec.ts', `
firmwareScenario('MQTT Publish', { endpoint: { tls: { server: 'server-valid' } }, boundMs: 50000 }, async (ctx) => {
  await ctx.until('a PUBLISH (this firmware sends none)', () => undefined);
});`);
      const started = Date.now();
      const { code, stdout, stderr } = await hilt(['run', 'crash.spec.ts'], { cwd: dir, timeoutMs: 45_000 });
      expect(code, stdout + stderr).to.equal(1);
      // Ended by the panic, not by the 50 s bound.
      expect(Date.now() - started).to.be.below(45_000);
      const [s] = (await latestResults(dir)).scenarios;
      expect(s!.failure).to.deep.include({ kind: 'panic' });
      expect(s!.failure!.message).to.match(/^device stack overflow: stack overflow in task "mqtt_t…" \(the console cut the line: the name may be incomplete\) \("\*\*\*ERROR\*\*\* A stack overflow in task mqtt_tets Jul 29 2019 12:21:46"\)$/);
    });

    it('a misspelt title in firmware.scenarios stops the run before anything starts, naming it and the title it resembles; exit 2', async function () {
      await bench((p) => `mqtts://127.0.0.1:${p}`, { scenarios: ['connect.spec.ts'], firmware: { scenarios: { 'MQTT connect again': { boundMs: 1000 } } } });
      const { code, stderr } = await hilt(['run'], { cwd: dir, timeoutMs: 40_000 });
      expect(code, stderr).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.include('firmware.scenarios["MQTT connect again"] names no firmware scenario of this run: did you mean "MQTT Connect again"?');
      expect(existsSync(join(dir, 'reports', 'latest')), 'nothing started').to.equal(false);
    });

    it('a device that never connects: a device error naming the endpoint URI it was told to use; the scenarios after it not run; exit 3', async function () {
      const dead = await freePort();
      const endpointPort = await bench(() => `mqtts://127.0.0.1:${dead}`, { firmware: { scenarios: { 'MQTT Connect': { boundMs: 1000 } } } });
      const started = Date.now();
      const { code, stderr } = await hilt(['run', 'connect.spec.ts'], { cwd: dir, timeoutMs: 40_000 });
      expect(Date.now() - started).to.be.below(20_000);
      expect(code).to.equal(3);
      const uri = `mqtts://127.0.0.1:${endpointPort}`;
      expect(stderr).to.include(`it was told to use ${uri}`);
      expectOneCleanLine(stderr);
      const r = await latestResults(dir);
      expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['error', 'error']);
      expect(r.scenarios[0]!.failure).to.include({ kind: 'infrastructure' });
      expect(r.scenarios[0]!.failure!.message).to.equal(`the device made no connection attempt to the endpoint within 1000 ms: it was told to use ${uri}: ` +
        'check the broker URI its test build has (hilt endpoint), its network, and that it runs');
      expect(r.scenarios[1]!.failure!.message).to.match(/^not run: the device made no connection attempt/);
    });
  });

  describe('a device that connects to the wrong port', function () {
    const ctx = withLab({ profiles: ['good'], endpoint: { host: '127.0.0.1', port: 0 } }, { devices: [DEVICE] });

    it('its attempt on a profile listener is named in the error and in the scenario\'s notes', async function () {
      const endpoint = ctx.lab.endpoint!;
      const wrong = ctx.lab.listener('good');
      const own = ctx.pki.material(`device/${DEVICE}`);
      const firmware = new TinyFirmware({ uri: wrong.url, ca: ctx.pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: DEVICE, retryMs: 200 });
      const device = await FirmwareDevice.open(new MemoryTransport(firmware.stream, 'tiny firmware'));
      try {
        const rec: ScenarioRecord = { samples: [], notes: [], attemptMark: ctx.lab.attempts.mark(), consoleLog: null, panic: null, warnings: [] };
        const session: FirmwareSession = {
          device, lab: ctx.lab, endpoint, pki: ctx.pki, config: defaultConfig(), deviceId: DEVICE, uri: endpoint.url,
          begin: async () => {}, end: () => endpoint.refuse(), record: () => rec, knownStateBoundMs: () => 0,
        };
        const mark = ctx.lab.attempts.mark();
        endpoint.serve({ tls: { server: 'server-valid' } });
        const c = new FirmwareContext(session, rec, { timedOut: false } as Mocha.Test, 2_000, 1, mark);
        firmware.boot();
        const err = await rejection(c.until('an MQTT CONNECT', (attempts) => attempts.find((a) => a.mqtt)));
        const named = `the device connected to port ${wrong.port} (listener good) instead of the endpoint: its broker URI names the wrong port`;
        expect(err).to.be.instanceOf(NoAttemptError);
        expect(err.message).to.equal(`the device made no connection attempt to the endpoint within 2000 ms: it was told to use ${endpoint.url}; ${named}`);
        expect(rec.notes).to.include(named);
      } finally {
        await firmware.close();
        await device.close();
        endpoint.refuse();
      }
    });
  });
});
