/** The lab PKI over time: idempotent, roots stable, drifting leaves reissued, bad files refused. */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { ensurePki, type CertArtifact, type Pki } from '../../harness/pki/index.ts';
import { tempDir } from '../helpers.ts';

const DAY = 86_400_000;
const artifact = (pki: Pki, name: string) => pki.manifest.artifacts.find((a) => a.name === name) as CertArtifact;
const actions = (pki: Pki) => Object.fromEntries(pki.changes.map((c) => [c.name, c.action]));

async function snapshot(pki: Pki): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const a of pki.manifest.artifacts) {
    for (const file of Object.values(a.files)) {
      out[file] = await readFile(join(pki.dir, file), 'utf8').catch(() => '(missing)');
    }
  }
  out['manifest.json'] = await readFile(join(pki.dir, 'manifest.json'), 'utf8');
  return out;
}

describe('lab PKI lifecycle', function () {
  let dir: string;
  let remove: () => Promise<void>;
  let first: Pki;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir());
    first = await ensurePki({ dir });
  });
  afterEach(() => remove());

  it('creates everything once, then changes nothing on the next call', async function () {
    expect(Object.values(actions(first))).to.satisfy((a: string[]) => a.every((x) => x === 'created'));
    const before = await snapshot(first);
    const again = await ensurePki({ dir });
    expect(Object.values(actions(again))).to.satisfy((a: string[]) => a.every((x) => x === 'kept'));
    expect(await snapshot(again)).to.deep.equal(before);
  });

  it('writes private keys 0600 and certificates world-readable', async function () {
    for (const a of first.manifest.artifacts) {
      if (a.kind === 'bundle') continue;
      expect((await stat(join(dir, a.files.key))).mode & 0o777, a.files.key).to.equal(0o600);
      expect((await stat(join(dir, a.files.cert))).mode & 0o777, a.files.cert).to.equal(0o644);
    }
  });

  it('sets a key whose mode drifted from 0600 back, and reports it; the key itself is kept', async function () {
    await chmod(join(dir, 'roots/current.key'), 0o644);
    await chmod(join(dir, 'server/valid.key'), 0o640);
    const key = await readFile(join(dir, 'roots/current.key'), 'utf8');
    const again = await ensurePki({ dir });
    const warnings = again.changes.filter((c) => c.action === 'warning');
    expect(warnings).to.deep.equal([
      { name: 'root-current', action: 'warning', reason: 'key roots/current.key was mode 0644, open to others: set to 0600 (if others could read it, treat the key as exposed)' },
      { name: 'server-valid', action: 'warning', reason: 'key server/valid.key was mode 0640, open to others: set to 0600 (if others could read it, treat the key as exposed)' },
    ]);
    expect((await stat(join(dir, 'roots/current.key'))).mode & 0o777).to.equal(0o600);
    expect((await stat(join(dir, 'server/valid.key'))).mode & 0o777).to.equal(0o600);
    expect(await readFile(join(dir, 'roots/current.key'), 'utf8')).to.equal(key);
    expect(again.changes.filter((c) => c.action === 'reissued')).to.deep.equal([]);
    // Said once: the next call finds nothing to say.
    expect((await ensurePki({ dir })).changes.filter((c) => c.action === 'warning')).to.deep.equal([]);
  });

  it('leaves a key its owner made stricter (0400) alone', async function () {
    await chmod(join(dir, 'client/valid.key'), 0o400);
    const again = await ensurePki({ dir });
    expect(again.changes.filter((c) => c.action !== 'kept')).to.deep.equal([]);
    expect((await stat(join(dir, 'client/valid.key'))).mode & 0o777).to.equal(0o400);
  });

  it('never puts a private key into the manifest', async function () {
    const text = await readFile(join(dir, 'manifest.json'), 'utf8');
    expect(text).to.not.include('PRIVATE KEY');
    expect(artifact(first, 'server-valid')).to.include.keys('subject', 'issuer', 'notBefore', 'notAfter', 'keyType', 'sha256');
  });

  it('a year on, reissues the leaves whose dates drifted and keeps roots', async function () {
    const later = await ensurePki({ dir, now: new Date(Date.now() + 380 * DAY) });
    const a = actions(later);
    expect(a['root-current']).to.equal('kept');
    expect(a['ca-issuing']).to.equal('kept');
    expect(a['server-valid']).to.equal('reissued'); // was close to expiry
    expect(a['server-not-yet-valid']).to.equal('reissued'); // had become valid
    expect(a['server-expired']).to.equal('kept'); // still expired
    expect(later.changes.find((c) => c.name === 'server-valid')?.reason).to.match(/expires in/);
    const leaf = new X509Certificate(await readFile(later.path('server-valid'), 'utf8'));
    expect(Date.parse(leaf.validTo)).to.be.greaterThan(Date.now() + 380 * DAY);
  });

  it('keeps roots without --force and replaces them, with every leaf, when forced', async function () {
    const root = artifact(first, 'root-current').sha256;
    const forced = await ensurePki({ dir, force: true });
    expect(artifact(forced, 'root-current').sha256).to.not.equal(root);
    expect(Object.values(actions(forced))).to.satisfy((a: string[]) => a.every((x) => x === 'reissued'));
    // Leaves signed by the old root are now reissued on the next plain call too: none are left.
    const after = await ensurePki({ dir });
    expect(Object.values(actions(after))).to.satisfy((a: string[]) => a.every((x) => x === 'kept'));
  });

  it('reissues the leaves of a root replaced by hand, and never the root', async function () {
    // Someone restored an older root from a backup: leaves no longer chain to it.
    const other = await tempDir();
    try {
      const foreign = await ensurePki({ dir: other.dir });
      for (const f of ['roots/current.crt', 'roots/current.key']) {
        await writeFile(join(dir, f), await readFile(join(other.dir, f)));
      }
      const after = await ensurePki({ dir });
      expect(artifact(after, 'root-current').sha256).to.equal(artifact(foreign, 'root-current').sha256);
      expect(actions(after)['ca-issuing']).to.equal('reissued');
      expect(after.changes.find((c) => c.name === 'ca-issuing')?.reason).to.equal('issuer was replaced');
      expect(actions(after)['server-valid']).to.equal('reissued');
      expect(actions(after)['server-next']).to.equal('kept');
    } finally {
      await other.remove();
    }
  });

  it('adds --host names to the server certificates and keeps them on later calls', async function () {
    const withHost = await ensurePki({ dir, hosts: ['10.0.2.2', 'bench.local'] });
    expect(actions(withHost)['server-valid']).to.equal('reissued');
    expect(actions(withHost)['client-valid']).to.equal('kept');
    expect(artifact(withHost, 'server-valid').names).to.deep.equal(['localhost', '127.0.0.1', '::1', '10.0.2.2', 'bench.local']);
    expect(artifact(withHost, 'server-wrong-host').names).to.deep.equal(['wrong-host.hilt.invalid']);
    const again = await ensurePki({ dir });
    expect(again.manifest.hosts).to.include('bench.local');
    expect(actions(again)['server-valid']).to.equal('kept');
  });

  it('mints a device certificate whose CN is the device id, and keeps it', async function () {
    const pki = await ensurePki({ dir, devices: ['bench-esp32-07'] });
    expect(artifact(pki, 'device/bench-esp32-07').subject).to.equal('CN=bench-esp32-07, O=hilt lab');
    expect(artifact(pki, 'device/bench-esp32-07').issuer).to.equal(artifact(pki, 'ca-issuing').subject);
    const again = await ensurePki({ dir });
    expect(actions(again)['device/bench-esp32-07']).to.equal('kept');
  });

  describe('bad input', function () {
    async function refused(options: Parameters<typeof ensurePki>[0], pattern: RegExp) {
      const before = await snapshot(first);
      let error: unknown;
      try {
        await ensurePki(options);
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.match(pattern);
      expect((error as Error).message).to.not.include('\n');
      return before;
    }

    it('refuses a corrupt root, naming the file and the fix, and writes nothing', async function () {
      await writeFile(join(dir, 'roots/current.crt'), '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n');
      const before = await refused({ dir, force: false }, /roots\/current\.crt: not a valid PEM certificate.*--force/);
      expect(await snapshot(first)).to.deep.equal(before);
    });

    it('refuses a corrupt leaf key, naming the file', async function () {
      await writeFile(join(dir, 'server/valid.key'), 'not a key');
      await refused({ dir }, /server\/valid\.key: not a valid PEM private key.*delete it/);
    });

    it('refuses a key that belongs to another certificate', async function () {
      await writeFile(join(dir, 'server/valid.key'), await readFile(join(dir, 'server/expired.key')));
      await refused({ dir }, /server\/valid\.key: is not the key of .*server\/valid\.crt/);
    });

    it('refuses a root whose key went missing, instead of replacing the root', async function () {
      await rm(join(dir, 'roots/current.key'));
      await refused({ dir }, /roots\/current\.key: missing while its pair exists/);
    });

    it('refuses a certs dir that cannot be written', async function () {
      await refused({ dir: join(dir, 'manifest.json', 'sub') }, /certs dir .*manifest\.json\/sub cannot be written \(ENOTDIR\)/);
      await refused({ dir: join(dir, 'manifest.json') }, /certs dir .*manifest\.json cannot be written \(EEXIST\)/);
    });

    it('refuses a corrupt manifest', async function () {
      await writeFile(join(dir, 'manifest.json'), '{ not json');
      await refused({ dir }, /manifest\.json: not a hilt manifest/);
    });

    it('refuses a host that is not a name or address, and a bad device id', async function () {
      await refused({ dir, hosts: ['bench local'] }, /--host "bench local": not a host name or IP address/);
      await refused({ dir, devices: ['a/b'] }, /device id "a\/b"/);
    });
  });
});
