/**
 * Faults around the lab: a client without a certificate trying to take a device's session, and
 * several hilt processes creating one certs folder at once. Real TLS, real mqtt.js clients, real
 * child processes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import type { Lab } from '../../harness/lab/index.ts';
import { ensurePki, LOCK_FILE, type Pki } from '../../harness/pki/index.ts';
import { REPO, hilt, rejection, run, tempDir, withLab } from '../helpers.ts';
import { deviceOptions, mqttConnect } from '../lab/clients.ts';

describe('lab faults', function () {
  describe('session takeover', function () {
    const held = withLab({ profiles: ['good', 'no-client-auth', 'plain'] });
    let pki: Pki;
    let lab: Lab;
    before(function () { ({ pki, lab } = held); });

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

  describe('concurrent first runs on one certs folder', function () {
    this.timeout(120_000);
    let dir: string;
    let remove: () => Promise<void>;
    beforeEach(async function () {
      ({ dir, remove } = await tempDir());
    });
    afterEach(() => remove());

    /** What a PKI is made of, keys included (as digests): equal means the same PKI. */
    const IDENTITY = `
      import { createHash } from 'node:crypto';
      import { ensurePki } from './harness/pki/index.ts';
      const pki = await ensurePki({ dir: process.argv[1] });
      const digest = (t) => createHash('sha256').update(t).digest('hex');
      const certs = pki.manifest.artifacts.filter((a) => a.kind !== 'bundle');
      console.log(JSON.stringify(Object.fromEntries(certs.map((a) => [a.name, [digest(pki.material(a.name).cert), digest(pki.material(a.name).key)]]))));
    `;
    const identity = (pki: Pki) => {
      const digest = (t: string) => createHash('sha256').update(t).digest('hex');
      const certs = pki.manifest.artifacts.filter((a) => a.kind !== 'bundle');
      return Object.fromEntries(certs.map((a) => [a.name, [digest(pki.material(a.name).cert), digest(pki.material(a.name).key)]]));
    };

    it('hilt certs twice at once on an empty folder: both succeed; one creates, the other keeps that PKI', async function () {
      const certs = join(dir, 'certs');
      const runs = await Promise.all([1, 2].map(() => hilt(['certs', '--dir', certs], { timeoutMs: 90_000 })));
      for (const r of runs) expect(r.code, r.stderr).to.equal(0);
      const summaries = runs.map((r) => /(\d+) created, (\d+) reissued, (\d+) kept/.exec(r.stdout)?.slice(1).join(' ')).sort();
      expect(summaries).to.deep.equal(['0 0 20', '20 0 0']);
      // Every key is its certificate's and every leaf chains to the roots on disk: all kept.
      const after = await ensurePki({ dir: certs });
      expect(after.changes.filter((c) => c.action !== 'kept')).to.deep.equal([]);
      expect(await readdir(certs)).to.not.include(LOCK_FILE);
    });

    it('ensurePki in two processes at once: both hold the same roots, leaves and keys, the ones on disk', async function () {
      const certs = join(dir, 'certs');
      const runs = await Promise.all([1, 2].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', IDENTITY, certs],
        { cwd: REPO, timeoutMs: 90_000 })));
      for (const r of runs) expect(r.code, r.stderr).to.equal(0);
      const [a, b] = runs.map((r) => JSON.parse(r.stdout) as Record<string, [string, string]>);
      expect(a!['root-current']).to.be.an('array');
      expect(b).to.deep.equal(a);
      expect(identity(await ensurePki({ dir: certs }))).to.deep.equal(a);
    });

    it('breaks a lock left by a process that is gone', async function () {
      const gone = spawn('true');
      await new Promise((resolve) => gone.once('exit', resolve));
      await writeFile(join(dir, LOCK_FILE), `${gone.pid}\n`);
      const pki = await ensurePki({ dir, lockTimeoutMs: 10_000 });
      expect(pki.changes.filter((c) => c.action === 'created')).to.have.length(20);
      expect(await readdir(dir)).to.not.include(LOCK_FILE);
    });

    it('breaks an empty lock file left by a process killed before it wrote its pid', async function () {
      // Before, every later process waited its whole timeout, then blamed "another process".
      const lock = join(dir, LOCK_FILE);
      await writeFile(lock, '');
      const old = new Date(Date.now() - 60_000);
      await utimes(lock, old, old);
      const pki = await ensurePki({ dir, lockTimeoutMs: 2_000 });
      expect(pki.changes.filter((c) => c.action === 'created')).to.have.length(20);
      expect(await readdir(dir)).to.not.include(LOCK_FILE);
    });

    it('an empty lock file that is new is a holder still writing its pid: waited for', async function () {
      await writeFile(join(dir, LOCK_FILE), '');
      const error = await rejection(ensurePki({ dir, lockTimeoutMs: 300 }));
      expect(error.message).to.match(/is locked by another process .* stayed locked for 300 ms/);
    });

    it('a stale lock that another process is breaking: the wait stays bounded', async function () {
      // Before, the waiter looped, without a pause or its deadline, for as long as the breaker lived.
      this.timeout(10_000);
      const gone = spawn('true');
      await new Promise((resolve) => gone.once('exit', resolve));
      const breaker = spawn('sleep', ['60']);
      try {
        await writeFile(join(dir, LOCK_FILE), `${gone.pid}\n`);
        await writeFile(join(dir, `${LOCK_FILE}.break`), `${breaker.pid}\n`);
        const error = await rejection(ensurePki({ dir, lockTimeoutMs: 300 }));
        expect(error).to.be.instanceOf(UsageError);
        expect(error.message).to.match(/stayed locked for 300 ms/);
      } finally {
        breaker.kill('SIGKILL');
      }
    });

    it('waits a bounded time for a holder that is alive, then says which lock file', async function () {
      const holder = spawn('sleep', ['60']);
      try {
        await writeFile(join(dir, LOCK_FILE), `${holder.pid}\n`);
        const error = await rejection(ensurePki({ dir, lockTimeoutMs: 300 }));
        expect(error).to.be.instanceOf(UsageError);
        expect(error.message).to.equal(`certs dir ${dir} is locked by process ${holder.pid} (lock file ${join(dir, LOCK_FILE)}) ` +
          'and stayed locked for 300 ms: wait for the other hilt to finish, or delete the lock file if none is running');
        expect(await readdir(dir), 'nothing written meanwhile').to.deep.equal([LOCK_FILE]);
      } finally {
        holder.kill('SIGKILL');
      }
    });
  });
});
