/**
 * Faults around the lab: a client without a certificate trying to take a device's session, and
 * several hilt processes creating one certs folder at once. Real TLS, real mqtt.js clients, real
 * child processes.
 */
import { expect } from 'chai';
import { startLab, type Lab } from '../../harness/lab/index.ts';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import { tempDir } from '../helpers.ts';
import { deviceOptions, mqttConnect } from '../lab/clients.ts';

describe('lab faults', function () {
  describe('session takeover', function () {
    let pki: Pki;
    let lab: Lab;
    let remove: () => Promise<void>;

    before(async function () {
      const tmp = await tempDir();
      remove = tmp.remove;
      pki = await ensurePki({ dir: tmp.dir });
      lab = await startLab({ pki, profiles: ['good', 'no-client-auth', 'plain'] });
    });
    after(async function () {
      await lab?.close();
      await remove();
    });

    const intruderOptions = (profile: string) => (profile === 'plain'
      ? { clientId: 'hilt-device-1', reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4 as const }
      : deviceOptions(pki, 'bundle-current', null));

    for (const profile of ['plain', 'no-client-auth']) {
      it(`${profile}: a client without the certificate is refused the connected device's id; the device keeps its session`, async function () {
        const device = (await mqttConnect(lab.listener('good').url, deviceOptions(pki, 'bundle-current', 'client-valid'))).client!;
        const held = await lab.attempts.next('good');
        try {
          await device.subscribeAsync('devices/hilt-device-1/#', { qos: 1 });

          const intruder = await mqttConnect(lab.listener(profile).url, intruderOptions(profile));
          intruder.client?.end(true);
          expect(intruder.error).to.equal('CONNACK 5');
          const refused = await lab.attempts.next(profile, { until: 'closed' });
          expect(refused.mqtt).to.include({ clientId: 'hilt-device-1', connack: 5 });
          expect(refused.closed).to.deep.include({
            by: 'lab',
            reason: `CONNACK 5: client id "hilt-device-1" is held with its certificate (attempt ${held.id} on good): ` +
              'a client without that certificate cannot take it over',
          });

          // The device noticed nothing: still connected, its subscription still delivers.
          expect(device.connected).to.equal(true);
          const back = new Promise<string>((resolve) => device.once('message', (topic, payload) => resolve(`${topic} ${payload}`)));
          await device.publishAsync('devices/hilt-device-1/up', 'still here', { qos: 1 });
          expect(await back).to.equal('devices/hilt-device-1/up still here');
          expect(held.closed).to.equal(null);
        } finally {
          await device.endAsync();
        }
        const closed = await lab.attempts.next('good', { after: held.id - 1, until: 'closed' });
        expect(closed.id).to.equal(held.id);
        expect(closed.closed).to.include({ by: 'device', reason: 'closed by device' });
      });
    }

    it('the same certificate reconnecting takes its session over, and the old record says so', async function () {
      const first = (await mqttConnect(lab.listener('good').url, deviceOptions(pki, 'bundle-current', 'client-valid'))).client!;
      const old = await lab.attempts.next('good');
      const closedFirst = new Promise<void>((resolve) => first.once('close', () => resolve()));
      const second = await mqttConnect(lab.listener('good').url, deviceOptions(pki, 'bundle-current', 'client-valid'));
      expect(second.error).to.equal(null);
      const replacing = await lab.attempts.next('good');
      await closedFirst;
      first.end(true);
      await second.client!.endAsync();
      const oldRecord = await lab.attempts.next('good', { after: old.id - 1, until: 'closed' });
      expect(oldRecord.id).to.equal(old.id);
      expect(oldRecord.closed).to.include({ by: 'lab', reason: `taken over by attempt ${replacing.id} on good (same client id)` });
    });
  });
});
