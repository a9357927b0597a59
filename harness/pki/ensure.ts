/**
 * Brings a certs dir to the catalogue: issues what is missing, reissues leaves whose dates,
 * issuer, names or key no longer fit their purpose, keeps roots unless forced, and writes the
 * manifest. Everything is issued in memory first and written only when all of it succeeded.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { access, chmod, constants, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { UsageError, errnoOf, quoted } from '../errors.ts';
import { makeDir } from '../files.ts';
import { settleWithin, within } from '../time.ts';
import { withLockFile } from '../lock.ts';
import { VERSION } from '../version.ts';
import type { CertSpec } from './catalog.ts';
import { BASE_HOSTS, BUNDLES, CERTIFICATES, DEVICE_ID, deviceSpec } from './catalog.ts';
import type { Material } from './issue.ts';
import {
  canonicalHost, datesDrift, distinguishedName, fingerprint, hostNames, issue, newKey, keyKindOf, keyLabel, keyMatches, sanOf,
} from './issue.ts';

export const MANIFEST_SCHEMA = 1;

export interface CertArtifact {
  name: string;
  kind: CertSpec['kind'];
  purpose: string;
  /** Paths relative to the certs dir. `chain` is what a server presents: leaf then intermediates. */
  files: { cert: string; key: string; chain?: string };
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  sha256: string;
  names: string[];
}

export interface BundleArtifact {
  name: string;
  kind: 'bundle';
  purpose: string;
  files: { pem: string };
  certificates: Array<{ name: string; subject: string; sha256: string }>;
}

export type Artifact = CertArtifact | BundleArtifact;

export interface Manifest {
  schema: number;
  generator: string;
  updated: string;
  /** Every name the lab's server certificates carry. */
  hosts: string[];
  artifacts: Artifact[];
}

export type ChangeAction = 'created' | 'reissued' | 'kept' | 'warning';
export interface Change {
  name: string;
  action: ChangeAction;
  reason?: string;
}

export interface EnsureOptions {
  dir: string;
  /** Extra names for server certificates (LAN name or IP of the bench, 10.0.2.2 for QEMU). */
  hosts?: string[];
  /** Replace everything, roots included. */
  force?: boolean;
  /** Device ids to hold a valid certificate for, besides those already in the dir. */
  devices?: string[];
  /** The time the dates are judged against (tests). */
  now?: Date;
  /** How long to wait for another process that holds the certs folder's lock (default 60 s). */
  lockTimeoutMs?: number;
}

/** The lock file in a certs folder while a process creates or refreshes its PKI. */
export const LOCK_FILE = '.hilt-pki.lock';

/** A lab PKI on disk, with its PEM text loaded. Keys are reachable only through `material()`. */
export interface Pki {
  dir: string;
  manifest: Manifest;
  changes: Change[];
  /** Absolute path of an artifact's file. */
  path(name: string, file?: 'cert' | 'key' | 'chain' | 'pem'): string;
  /** Certificate, key and served chain of a certificate artifact. */
  material(name: string): Material & { chain: string };
  /** PEM text of a bundle. */
  bundle(name: string): string;
}

/** The warnings among a PKI's changes (a key whose mode had drifted, a root kept that no longer fits), as one line each. */
export function warningsOf(pki: Pki): string[] {
  return pki.changes.filter((c) => c.action === 'warning').map((c) => `${c.name}: ${c.reason}`);
}

const GENERATOR = `hilt ${VERSION}`;

function isHostName(host: string): boolean {
  return isIP(host) !== 0 || /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host);
}

/**
 * Creates a folder of the PKI 0700 whatever the umask (mkdir's mode is masked by it; chmod is
 * not). A folder that exists is left as its owner set it.
 */
async function makePrivateDir(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if (errnoOf(err) === 'EEXIST' && (await stat(path)).isDirectory()) return;
    throw err;
  }
  await chmod(path, 0o700);
}

async function prepareDir(dir: string): Promise<void> {
  try {
    // Parents are ordinary folders; the certs folder itself holds private keys.
    await makePrivateDir(dir).catch(async (err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw err;
      // (one level at a time: a recursive mkdir never settles under /proc)
      await makeDir(dirname(dir));
      await makePrivateDir(dir);
    });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new UsageError(`certs dir ${dir} cannot be written (${errnoOf(err)}): fix its permissions or choose another certs directory`, { cause: err });
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw new UsageError(`${path}: cannot be read (${errnoOf(err)}): fix its permissions`, { cause: err });
  }
}

async function readManifest(dir: string): Promise<Manifest | null> {
  const path = join(dir, 'manifest.json');
  const text = await readIfExists(path);
  if (text === null) return null;
  try {
    const manifest = JSON.parse(text) as Manifest;
    if (manifest.schema !== MANIFEST_SCHEMA || !Array.isArray(manifest.artifacts) || !Array.isArray(manifest.hosts)) {
      throw new Error(`schema ${String(manifest.schema)}`);
    }
    return manifest;
  } catch (err) {
    throw new UsageError(`${path}: not a hilt manifest (${(err as Error).message}): delete it and run \`hilt certs\` to rebuild it from the PEM files`);
  }
}

/** Ids of devices minted earlier: every device/<id>.crt in the dir. */
async function mintedDevices(dir: string): Promise<string[]> {
  try {
    const files = await readdir(join(dir, 'device'));
    return files.filter((f) => f.endsWith('.crt')).map((f) => f.slice(0, -4)).filter((id) => DEVICE_ID.test(id));
  } catch {
    return [];
  }
}

interface Existing {
  cert: X509Certificate;
  material: Material;
  /** Permission bits of the key file (0o600 as written). */
  keyMode: number;
}

/**
 * A private key open to its group or others is set back to 0600, and said so: the lab's keys
 * are test keys that hilt can put right itself, so this warns rather than stopping a run, but
 * whoever reads the warning learns the key may have been exposed.
 */
async function tightenKey(dir: string, spec: CertSpec, mode: number): Promise<Change> {
  const keyPath = join(dir, `${spec.file}.key`);
  const was = `0${mode.toString(8)}`;
  try {
    await chmod(keyPath, 0o600);
  } catch (err) {
    throw new UsageError(`${keyPath}: private key is mode ${was} and cannot be set to 0600 (${errnoOf(err)}): chmod 600 it, or delete it and run \`hilt certs\``, { cause: err });
  }
  return { name: spec.name, action: 'warning', reason: `key ${spec.file}.key was mode ${was}, open to others: set to 0600 (if others could read it, treat the key as exposed)` };
}

function fixFor(spec: CertSpec): string {
  return spec.kind === 'root'
    ? 'restore it from a backup, or run `hilt certs --force` to start a new PKI (firmware that embeds the old root must be rebuilt)'
    : 'delete it and run `hilt certs` to reissue it';
}

/** Loads a certificate and its key; null when neither exists. Refuses corrupt or mismatched files. */
async function loadExisting(dir: string, spec: CertSpec): Promise<Existing | null> {
  const certPath = join(dir, `${spec.file}.crt`);
  const keyPath = join(dir, `${spec.file}.key`);
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (certPem === null && keyPem === null) return null;
  if (certPem === null || keyPem === null) {
    if (spec.kind !== 'root') return null; // half a leaf: issue it anew
    const missing = certPem === null ? certPath : keyPath;
    throw new UsageError(`${missing}: missing while its pair exists: ${fixFor(spec)}`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new UsageError(`${certPath}: not a valid PEM certificate (corrupt?): ${fixFor(spec)}`);
  }
  let matches: boolean;
  try {
    matches = keyMatches(cert, keyPem);
  } catch {
    throw new UsageError(`${keyPath}: not a valid PEM private key (corrupt?): ${fixFor(spec)}`);
  }
  if (!matches) throw new UsageError(`${keyPath}: is not the key of ${certPath}: ${fixFor(spec)}`);
  const keyMode = (await stat(keyPath)).mode & 0o777;
  return { cert, material: { cert: certPem, key: keyPem }, keyMode };
}

/** Why an existing certificate must be reissued, or null to keep it. */
function driftOf(spec: CertSpec, found: X509Certificate, issuer: X509Certificate | null, hosts: readonly string[], now: number): string | null {
  if (keyKindOf(found) !== spec.key) return `key is ${keyLabel(keyKindOf(found))}, not ${keyLabel(spec.key)}`;
  if (issuer && !(found.checkIssued(issuer) && found.verify(issuer.publicKey))) return 'issuer was replaced';
  const wanted = hostNames(spec, hosts);
  const have = sanOf(found);
  if (wanted.length !== have.length || wanted.some((h) => !have.includes(h))) return `names changed to ${wanted.join(' ')}`;
  const drift = datesDrift(spec.dates, found, now);
  return drift;
}

function chainOf(spec: CertSpec, byName: Map<string, CertSpec>, issued: Map<string, Material>): string {
  let pem = issued.get(spec.name)!.cert;
  for (let up = byName.get(spec.issuer); up && up.issuer !== 'self'; up = byName.get(up.issuer)) {
    pem += issued.get(up.name)!.cert;
  }
  return pem;
}

export async function ensurePki(options: EnsureOptions): Promise<Pki> {
  const dir = resolve(options.dir);
  const now = (options.now ?? new Date()).getTime();
  for (const host of options.hosts ?? []) {
    if (!isHostName(host)) throw new UsageError(`--host ${quoted(host)}: not a host name or IP address: give a DNS name (bench.local) or an address (192.168.1.20)`);
  }
  for (const id of options.devices ?? []) {
    if (!DEVICE_ID.test(id)) throw new UsageError(`device id ${quoted(id)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  await prepareDir(dir);
  // Two hilt processes on one certs folder (two first runs at once, a run beside hilt certs)
  // would each issue their own roots and write over each other: one at a time, and the second
  // then finds the first's PKI complete and keeps it.
  const lock = { what: `certs dir ${dir}`, timeoutMs: options.lockTimeoutMs };
  return withLockFile(join(dir, LOCK_FILE), lock, () => ensureLocked(dir, options, now));
}

async function ensureLocked(dir: string, options: EnsureOptions, now: number): Promise<Pki> {
  const previous = await readManifest(dir);
  // Hosts accumulate: a bench address given once stays on the server certificates until --force.
  const hosts = [...new Set([...BASE_HOSTS, ...(options.force ? [] : previous?.hosts ?? []), ...(options.hosts ?? []).map(canonicalHost)])];
  const devices = [...new Set([...(await mintedDevices(dir)), ...(options.devices ?? [])])].sort();
  const specs = [...CERTIFICATES, ...devices.map(deviceSpec)];
  const byName = new Map(specs.map((s) => [s.name, s]));

  const changes: Change[] = [];
  const issued = new Map<string, Material>();
  const fresh = new Set<string>();
  const parsed = new Map<string, X509Certificate>();
  const pending = new Map<string, Promise<void>>();

  const settle = (spec: CertSpec): Promise<void> => {
    let p = pending.get(spec.name);
    if (!p) {
      p = (async () => {
        const issuerSpec = spec.issuer === 'self' ? null : byName.get(spec.issuer)!;
        // Read what is on disk and, if it must be issued anyway, start its key now: neither waits
        // for the issuer, only the signature does.
        const existing = await loadExisting(dir, spec);
        const key = !existing || options.force ? newKey(spec.key) : undefined;
        key?.catch(() => {}); // awaited below; a failure surfaces there
        if (issuerSpec) await settle(issuerSpec);
        const issuer = issuerSpec ? issued.get(issuerSpec.name)! : null;
        let reason: string | null = existing ? null : 'missing';
        if (existing && options.force) reason = 'forced';
        else if (existing) {
          reason = driftOf(spec, existing.cert, issuerSpec ? parsed.get(issuerSpec.name)! : null, hosts, now);
          if (reason && spec.kind === 'root') {
            // Firmware embeds roots: never replace one behind the user's back.
            changes.push({ name: spec.name, action: 'warning', reason: `${reason}; kept (replace with --force)` });
            reason = null;
          }
        }
        // A key about to be replaced is written 0600 anew; one kept must be made private again.
        // (Owner bits alone, 0400 say, are the owner's business.)
        if (existing && !reason && (existing.keyMode & 0o077) !== 0) changes.push(await tightenKey(dir, spec, existing.keyMode));
        const material = reason ? await issue(spec, issuer, hosts, now, await (key ?? newKey(spec.key))) : existing!.material;
        if (reason) {
          fresh.add(spec.name);
          changes.push(existing ? { name: spec.name, action: 'reissued', reason } : { name: spec.name, action: 'created' });
        } else {
          changes.push({ name: spec.name, action: 'kept' });
        }
        issued.set(spec.name, material);
        parsed.set(spec.name, reason ? new X509Certificate(material.cert) : existing!.cert);
      })();
      pending.set(spec.name, p);
    }
    return p;
  };
  await Promise.all(specs.map(settle));
  const order = (c: Change) => specs.findIndex((s) => s.name === c.name);
  changes.sort((a, b) => order(a) - order(b));

  const artifacts: Artifact[] = [];
  const chains = new Map<string, string>();
  const writes: Array<[string, string, number]> = [];
  for (const spec of specs) {
    const material = issued.get(spec.name)!;
    const cert = parsed.get(spec.name)!;
    const files: CertArtifact['files'] = { cert: `${spec.file}.crt`, key: `${spec.file}.key` };
    if (spec.kind === 'server') files.chain = `${spec.file}.chain.pem`;
    if (fresh.has(spec.name)) {
      writes.push([files.key, material.key, 0o600], [files.cert, material.cert, 0o644]);
    }
    if (files.chain) {
      chains.set(spec.name, chainOf(spec, byName, issued));
      writes.push([files.chain, chains.get(spec.name)!, 0o644]);
    }
    artifacts.push({
      name: spec.name, kind: spec.kind, purpose: spec.purpose, files,
      subject: distinguishedName(cert.subject), issuer: distinguishedName(cert.issuer),
      notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString(),
      keyType: keyLabel(keyKindOf(cert)), sha256: fingerprint(cert), names: sanOf(cert),
    });
  }
  for (const bundle of BUNDLES) {
    writes.push([bundle.file, bundle.members.map((m) => issued.get(m)!.cert).join(''), 0o644]);
    artifacts.push({
      name: bundle.name, kind: 'bundle', purpose: bundle.purpose, files: { pem: bundle.file },
      certificates: bundle.members.map((m) => {
        const cert = parsed.get(m)!;
        return { name: m, subject: distinguishedName(cert.subject), sha256: fingerprint(cert) };
      }),
    });
  }
  const unchanged = previous && fresh.size === 0 && previous.hosts.join() === hosts.join();
  const updated = unchanged ? previous.updated : new Date(now).toISOString();
  const manifest: Manifest = { schema: MANIFEST_SCHEMA, generator: GENERATOR, updated, hosts, artifacts };

  // Chains and bundles are rewritten every time (cheap, derived); a reader never sees a torn file.
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  if ((await readIfExists(join(dir, 'manifest.json'))) !== manifestText) writes.push(['manifest.json', manifestText, 0o644]);
  await writeAll(dir, writes);

  return pkiOf(dir, manifest, changes, issued, chains);
}

/** How long writing the PKI may take: a hung file system is an error, not a hang. */
export const PKI_IO_MS = 10_000;

/**
 * Writes the files of one refresh all or nothing: every file goes to a temporary file first (a
 * key 0600 from its creation), and only when all of them are written are they renamed into
 * place, keys first and the manifest last. A full disk or a hung file system therefore leaves
 * the PKI as it was (no key without its certificate, no manifest describing files that are not
 * there), with one line naming the folder and the reason.
 */
async function writeAll(dir: string, writes: Array<[string, string, number]>): Promise<void> {
  const temps: Array<[string, string]> = [];
  let file = '';
  let gaveUp = false;
  let renaming = false;
  const work = async () => {
    for (const folder of new Set(writes.map(([f]) => dirname(f)))) {
      file = folder;
      if (folder !== '.') await makePrivateDir(join(dir, folder));
    }
    for (const [name, data, mode] of writes) {
      file = name;
      const tmp = join(dir, `${name}.${randomBytes(4).toString('hex')}.tmp`);
      temps.push([tmp, join(dir, name)]);
      await writeFile(tmp, data, { mode, flag: 'wx' });
      if (gaveUp) return;
    }
    // Renames need no space; a run that gave up waiting renames nothing more.
    renaming = true;
    for (const [tmp, path] of temps) {
      if (gaveUp) return;
      file = relative(dir, path);
      await rename(tmp, path);
    }
    temps.length = 0;
  };
  const writing = work();
  writing.catch(() => {}); // a late failure after the bound is handled below, not unhandled
  let problem: string | null = null;
  try {
    if (await within(PKI_IO_MS, writing) === 'timeout') {
      gaveUp = true;
      problem = `writing ${file} did not finish within ${PKI_IO_MS / 1000} s: check that file system`;
    }
  } catch (err) {
    problem = `cannot write ${file} (${errnoOf(err)}): ${errnoOf(err) === 'ENOSPC' ? 'free some space there' : 'fix its permissions'}, or choose another certs folder`;
  }
  if (problem === null) return;
  await settleWithin(5_000, Promise.all(temps.map(([tmp]) => rm(tmp, { force: true }))));
  // (renames cut off by the bound may have replaced some files: the next refresh puts the rest right)
  throw new UsageError(`certs dir ${dir}: ${problem}; ${renaming ? 'the PKI may be partly updated: run `hilt certs` again' : 'the PKI was left as it was'}`);
}

function pkiOf(dir: string, manifest: Manifest, changes: Change[], issued: Map<string, Material>, chains: Map<string, string>): Pki {
  const find = (name: string): Artifact => {
    const artifact = manifest.artifacts.find((a) => a.name === name);
    if (!artifact) throw new UsageError(`no lab certificate or bundle named ${quoted(name)}: see ${join(dir, 'manifest.json')}`);
    return artifact;
  };
  return {
    dir,
    manifest,
    changes,
    path(name, file) {
      const artifact = find(name);
      const files = artifact.files as Record<string, string | undefined>;
      const rel = files[file ?? (artifact.kind === 'bundle' ? 'pem' : 'cert')];
      if (!rel) throw new UsageError(`${name} has no ${file} file`);
      return join(dir, rel);
    },
    material(name) {
      const artifact = find(name);
      const material = issued.get(name);
      if (artifact.kind === 'bundle' || !material) throw new UsageError(`${name} is not a certificate`);
      return { ...material, chain: chains.get(name) ?? material.cert };
    },
    bundle(name) {
      const artifact = find(name);
      if (artifact.kind !== 'bundle') throw new UsageError(`${name} is not a bundle`);
      return BUNDLES.find((b) => b.name === name)!.members.map((m) => issued.get(m)!.cert).join('');
    },
  };
}
