/**
 * The firmware scenario API on real sockets: a real MQTT client over TLS as the device, a stand-in
 * endpoint recording into the lab's attempts, and FirmwareContext judging from those records.
 */
import { expect } from 'chai';
import { createServer, type AddressInfo } from 'node:net';
import { DeviceError, PanicError } from '../../harness/device/device.ts';
import { FirmwareDevice } from '../../harness/device/firmware.ts';
import { resolveTarget } from '../../harness/device/targets/index.ts';
import { defaultConfig } from '../../harness/run/config.ts';
import { FirmwareContext, NoAttemptError, type FirmwareSession } from '../../harness/run/firmware-session.ts';
import type { ScenarioRecord } from '../../harness/run/session.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import { rejection, withLab } from '../helpers.ts';
import { standInEndpoint, TinyFirmware, type StandIn } from './firmware-doubles.ts';

const DEVICE = 'esp32-hilt';

describe('firmware scenario context', function () {
  const ctx = withLab({ profiles: ['good'] }, { devices: [DEVICE] });
  let endpoint: StandIn;
  let firmware: TinyFirmware | null;
  let device: FirmwareDevice | null;

  beforeEach(async function () {
    endpoint = await standInEndpoint(ctx.pki, ctx.lab);
    firmware = null;
    device = null;
  });
  afterEach(async function () {
    await firmware?.close();
    await device?.close();
    await endpoint.close();
  });

  /** Boots the tiny firmware pointed at `uri` and returns a context as the runner would make it. */
  async function start(uri: string, boundMs: number): Promise<{ c: FirmwareContext; rec: ScenarioRecord }> {
    const own = ctx.pki.material(`device/${DEVICE}`);
    firmware = new TinyFirmware({ uri, ca: ctx.pki.bundle('bundle-current'), cert: own.cert, key: own.key, clientId: DEVICE, retryMs: 200 });
    device = await FirmwareDevice.open(new MemoryTransport(firmware.stream, 'tiny firmware'));
    const rec: ScenarioRecord = { samples: [], notes: [], attemptMark: ctx.lab.attempts.mark(), consoleLog: null, panic: null, warnings: [] };
    const session: FirmwareSession = {
      device, lab: ctx.lab, endpoint, pki: ctx.pki, config: defaultConfig(), deviceId: DEVICE, uri: endpoint.url,
      begin: async () => {}, end: () => endpoint.refuse(), record: () => rec, knownStateBoundMs: () => 0,
    };
    const mark = ctx.lab.attempts.mark();
    endpoint.serve({ tls: { server: 'server-valid' } });
    const c = new FirmwareContext(session, rec, { timedOut: false } as Mocha.Test, boundMs, 1, mark);
    firmware.boot();
    return { c, rec };
  }

  it('until() resolves when the endpoint has recorded what the check asks for, and the console is the scenario\'s', async function () {
    const { c, rec } = await start(endpoint.url, 10_000);
    const connected = await c.until('an MQTT CONNECT', (attempts) => attempts.find((a) => a.tls?.outcome === 'ok' && a.mqtt));
    expect(connected.listener).to.equal('endpoint');
    expect(c.attempts().map((a) => a.id)).to.include(connected.id);
    await device!.expect('MQTT_EVENT_CONNECTED');
    expect(c.console().some((l) => l.includes('Project name:     tiny_mqtt'))).to.equal(true);
    c.warn('strictly exponential backoff');
    c.warn('strictly exponential backoff');
    expect(rec.warnings).to.deep.equal(['strictly exponential backoff']);
    expect(device!.identity).to.include({ project: 'tiny_mqtt', version: '0.0.1', idf: 'v5.5', elfSha256: '0123abcd' });
  });

  it('a device that never connects is a device error naming the URI it was told to use, at the bound', async function () {
    // A port nothing listens on: the firmware's connects are refused by the OS, the endpoint sees none.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { c } = await start(`mqtts://127.0.0.1:${port}`, 1_000);
    const started = Date.now();
    const err = await rejection(c.until('an MQTT CONNECT', (attempts) => attempts.find((a) => a.mqtt)));
    expect(Date.now() - started).to.be.within(900, 5_000);
    expect(err).to.be.instanceOf(NoAttemptError).and.instanceOf(DeviceError);
    expect(err.message).to.equal(`the device made no connection attempt to the endpoint within 1000 ms: it was told to use ${endpoint.url}: ` +
      'check the broker URI its test build has (hilt endpoint), its network, and that it runs');
  });

  it('a check that never holds fails at the bound with what it waited for, as the firmware\'s failure', async function () {
    const { c } = await start(endpoint.url, 1_500);
    const err = await rejection(c.until('a PUBLISH on devices/esp32-hilt/telemetry', () => undefined));
    expect(err).to.not.be.instanceOf(DeviceError);
    expect(err.message).to.match(/^a PUBLISH on devices\/esp32-hilt\/telemetry: not seen within 1500 ms \(\d+ attempts? on the endpoint\)$/);
  });

  it('a panic ends the wait at once, as the firmware\'s failure', async function () {
    const { c } = await start(endpoint.url, 30_000);
    const started = Date.now();
    const waiting = rejection(c.until('something never recorded', () => undefined));
    await device!.expect('Project name', { since: 0 });
    firmware!.crash();
    const err = await waiting;
    expect(Date.now() - started).to.be.below(10_000);
    expect(err).to.be.instanceOf(PanicError);
    expect(err.message).to.include('LoadProhibited');
  });

  it('the emulated application as a target: provisioned from the endpoint\'s materials, judged from the endpoint\'s records, reset by the target', async function () {
    const target = resolveTarget('emulator:?firmware=app');
    const m = await endpoint.materials(DEVICE);
    target.provision!({ uri: m.uri, caBundlePem: m.caBundlePem, certPem: m.certPem, keyPem: m.keyPem, clientId: DEVICE });
    device = await FirmwareDevice.open(await target.transport());
    try {
      const rec: ScenarioRecord = { samples: [], notes: [], attemptMark: ctx.lab.attempts.mark(), consoleLog: null, panic: null, warnings: [] };
      const session: FirmwareSession = {
        device, lab: ctx.lab, endpoint, pki: ctx.pki, config: defaultConfig(), deviceId: DEVICE, uri: endpoint.url,
        begin: async () => {}, end: () => endpoint.refuse(), record: () => rec, knownStateBoundMs: () => 0,
      };
      const mark = ctx.lab.attempts.mark();
      endpoint.serve({ tls: { server: 'server-valid' } });
      const c = new FirmwareContext(session, rec, { timedOut: false } as Mocha.Test, 20_000, 1, mark);
      const first = await c.until('a CONNECT from the app', (attempts) => attempts.find((a) => a.mqtt));
      expect(first.tls?.outcome).to.equal('ok');
      expect(device.identity).to.include({ project: 'hilt_mqtt_app', version: '1.0.0' });
      expect(device.identity.elfSha256).to.match(/^[0-9a-f]{8,}$/);
      // The target's reset reboots the app: the boot banner again and a new session on the endpoint.
      const bootMark = device.mark();
      expect(await device.whileResetting(() => target.resetDevice!())).to.equal(true);
      const second = await c.until('a CONNECT after the reset', (attempts) => attempts.find((a) => a.mqtt && a.id > first.id));
      expect(second.id).to.be.above(first.id);
      expect(device.consoleSince(bootMark).some((l) => l.includes('rst:0x1 (POWERON_RESET)'))).to.equal(true);
      expect(device.panics).to.deep.equal([]);
    } finally {
      await target.close();
    }
  });
});

