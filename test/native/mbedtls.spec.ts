/**
 * The native target's Mbed TLS, built for real (fetched, checksum verified, 32-bit, ESP-IDF v5.5
 * config) and asked about itself through its own API; what it says is held against the
 * emulator's model of the same sdkconfig, which until now was the only description of what an
 * ESP32 offers. Skipped with one line when this machine cannot build it (no gcc, make, 32-bit
 * support, or no way to reach the source).
 */
import { expect } from 'chai';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SUITES } from '../../emulator/mbedtls/ciphersuites.ts';
import { mbedtlsConfigOf, parseSdkconfig, REFERENCE_SDKCONFIG } from '../../emulator/mbedtls/sdkconfig.ts';
import { openStreamBoard } from '../../emulator/index.ts';
import { Device } from '../../harness/device/device.ts';
import { parseClientHello } from '../../harness/lab/clienthello.ts';
import { listedSuites } from '../../harness/lab/tls-names.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import { ExitCode } from '../../harness/errors.ts';
import {
  FIRMWARE_DIR, MBEDTLS_VERSION, NativeBuildError, buildMbedtls, checkToolchain, probeMbedtls, sourcesKey, type MbedtlsBuild, type MbedtlsFacts,
} from '../../harness/native/build.ts';
import { run, tempDir } from '../helpers.ts';
import { needAgent } from './toolchain.ts';

describe('native: Mbed TLS built as ESP-IDF v5.5 builds it', function () {
  // A first build fetches 5.5 MB and compiles the library: about a minute on a loaded machine.
  this.timeout(20 * 60_000);
  const model = mbedtlsConfigOf(parseSdkconfig(REFERENCE_SDKCONFIG, 'REFERENCE_SDKCONFIG'));
  let build: MbedtlsBuild;
  let facts: MbedtlsFacts;

  before(async function () {
    try {
      await checkToolchain();
      build = await buildMbedtls();
    } catch (err) {
      // Only what the machine lacks skips; any other failure of the build is a failure.
      const unreachable = err instanceof NativeBuildError && err.exitCode === ExitCode.unreachable;
      const noToolchain = err instanceof NativeBuildError && /apt-get install/.test(err.message);
      if (unreachable || noToolchain) {
        console.log(`      skipped: ${err.message}`);
        this.skip();
      }
      throw err;
    }
    facts = await probeMbedtls(build);
  });

  it(`is Mbed TLS ${MBEDTLS_VERSION}`, () => {
    expect(facts.version).to.equal('3.6.6');
  });

  it('is a 32-bit build with a 64-bit time_t: pointers, bignum limbs and dates as on the ESP32', () => {
    expect(facts.pointerBits).to.equal(32);
    expect(facts.limbBits).to.equal(32);
    expect(facts.timeBits, 'time_t of 64 bits, as an ESP32 has').to.equal(64);
  });

  it('has the record buffers, protocol versions and clock the reference sdkconfig gives', () => {
    expect({ in: facts.inContentLen, out: facts.outContentLen }).to.deep.equal({ in: model.inContentLen, out: model.outContentLen });
    expect({ in: facts.inContentLen, out: facts.outContentLen }).to.deep.equal({ in: 16384, out: 4096 });
    expect(facts.tls13).to.equal(model.tls13).and.equal(false);
    expect(facts.haveTimeDate).to.equal(model.haveTimeDate).and.equal(true);
  });

  it('lets the host agent count the library\'s allocations (MBEDTLS_PLATFORM_MEMORY)', () => {
    expect(facts.platformMemory).to.equal(true);
  });

  it("offers the emulator's suites, in the emulator's order", () => {
    // mbedtls_ssl_list_ciphersuites() is what the ClientHello carries. ESP-IDF v5.5's esp_config.h
    // never undefines MBEDTLS_ARIA_C, which Mbed TLS 3.6 enables by default: the 20 ARIA suites
    // are on a real ESP32's list, and so on the emulator's.
    expect(facts.ciphersuites).to.deep.equal(model.ciphersuites);
    expect(facts.ciphersuites.filter((s) => s.includes('-ARIA-'))).to.have.length(20);
  });

  it("ranks suites as the library's own source does: the emulator's table is ciphersuite_preference, in order", async () => {
    // The probe sees only this build's configuration (no Camellia, no ChaCha20, no DHE); the
    // source's list covers every suite any configuration can enable.
    const preference = await sourcePreference(build);
    expect(preference, 'ssl_ciphersuites.c read').to.include('TLS-RSA-WITH-CAMELLIA-128-CBC-SHA');
    // The emulator leaves out the PSK, EC-JPAKE and NULL suites (ESP-IDF enables none of them).
    expect(SUITES.map((s) => s.mbedtls)).to.deep.equal(preference.filter((n) => !/PSK|ECJPAKE|NULL/.test(n)));
  });

  it('with Camellia on, an emulated board offers on the wire the suites OpenSSL speaks in ciphersuite_preference order', async () => {
    // CONFIG_MBEDTLS_CAMELLIA_C=y interleaves Camellia between AES-256, ARIA-256, AES-128 and
    // ARIA-128, for ECDHE and static RSA alike: the order a server picks from.
    const sdkconfig = parseSdkconfig(`${REFERENCE_SDKCONFIG}CONFIG_MBEDTLS_CAMELLIA_C=y\n`, 'camellia');
    const expected = (await sourcePreference(build))
      .filter((n) => mbedtlsConfigOf(sdkconfig).ciphersuites.includes(n) && SUITES.find((s) => s.mbedtls === n)!.openssl !== '');
    expect(expected.filter((n) => n.includes('CAMELLIA'))).to.have.length(8);
    const offered = await offeredSuites(sdkconfig);
    // IANA names spell the suite as Mbed TLS does, with _ for -.
    expect(offered.filter((n) => n.startsWith('TLS_') && !n.includes('SCSV')).map((n) => n.replaceAll('_', '-'))).to.deep.equal(expected);
  });

  it("offers the emulator's groups, in the emulator's order", () => {
    // The emulator names groups as Node does; Mbed TLS by its curve names.
    const mbedtlsName: Record<string, string> = { X25519: 'x25519', 'P-256': 'secp256r1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };
    expect(facts.groups).to.deep.equal(model.curves.map((g) => mbedtlsName[g] ?? g));
    for (const group of facts.groups) expect(facts.curves).to.include(group);
  });

  it("has the macros ESP-IDF's own esp_config.h gives, but for the documented host differences (IDF_PATH)", async function () {
    const idf = process.env.IDF_PATH;
    if (!idf) {
      console.log('      skipped: set IDF_PATH to an ESP-IDF v5.5 checkout to compare with its esp_config.h');
      this.skip();
    }
    const r = await run(join(FIRMWARE_DIR, 'host/mbedtls/check-against-idf.sh'), [idf, build.dir], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include('only the documented HOST differences');
  });

  it('two builds at once into an empty cache: one builds, the other waits for it and takes its folder', async () => {
    const tmp = await tempDir();
    try {
      // The tarball the first build fetched, so this needs no network.
      const env = { ...process.env, HILT_MBEDTLS_TARBALL: join(build.dir, '..', 'downloads', 'mbedtls_3.6.6.orig.tar.bz2') };
      const [a, b] = await Promise.all([buildMbedtls({ cacheDir: tmp.dir, env }), buildMbedtls({ cacheDir: tmp.dir, env })]);
      expect([a.cached, b.cached].sort()).to.deep.equal([false, true]);
      expect(a.dir).to.equal(b.dir);
      expect((await probeMbedtls(a)).version).to.equal('3.6.6');
      expect((await readdir(tmp.dir)).filter((n) => n.includes('.partial-') || n.endsWith('.lock'))).to.deep.equal([]);
    } finally {
      await tmp.remove();
    }
  });

  it("is not rebuilt by make when a checkout touches its sources (the agent's build depends on it)", async () => {
    // A git checkout or merge gives files new times without changing them; the folder's name already
    // stands for their contents, so make must take the library as up to date.
    const config = join(FIRMWARE_DIR, 'host/mbedtls/esp32_idf55_config.h');
    const before = await stat(config);
    const later = new Date(Date.now() + 3600_000);
    await utimes(config, later, later);
    try {
      const r = await run('make', ['-q', '-C', FIRMWARE_DIR, `MBEDTLS_OUT=${build.dir}`, join(build.dir, 'lib', 'libmbedtls.a')]);
      expect(r.code, 'make -q: 0 means up to date').to.equal(0);
    } finally {
      await utimes(config, before.atime, before.mtime);
    }
  });

  it('comes from the cache the second time, in the same folder', async () => {
    const again = await buildMbedtls();
    expect(again.cached).to.equal(true);
    expect(again.dir).to.equal(build.dir);
    expect(again.dir).to.match(new RegExp(`mbedtls-${MBEDTLS_VERSION}-${again.key}$`));
  });
});

describe("native: the ClientHello reader's suite names against the library", function () {
  this.timeout(20 * 60_000);
  let agent: string;
  before(async function () { agent = await needAgent(this); });

  it("names every suite the host agent's ClientHello carries: the 20 ARIA suites, CBC and static ECDH included, none as hex", async () => {
    const device = await Device.open(new ProcessTransport({ command: agent }));
    const offered = await offeredSuites(device);
    expect(offered.filter((n) => n.includes('_ARIA_'))).to.have.length(20);
    expect(offered.filter((n) => /^0x/.test(n))).to.deep.equal([]);
  });

  it("gives each suite Mbed TLS 3.6.6 defines the library's code, and lists every suite of ciphersuite_preference", async () => {
    // ssl_ciphersuites.h of the pinned tarball: MBEDTLS_TLS_<IANA name> <code> (TLS1_3_ for TLS 1.3).
    const build = await buildMbedtls();
    const tarball = join(build.dir, '..', 'downloads', `mbedtls_${MBEDTLS_VERSION}.orig.tar.bz2`);
    const r = await run('tar', ['-xjOf', tarball, `mbedtls-${MBEDTLS_VERSION}/include/mbedtls/ssl_ciphersuites.h`], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).to.equal(0);
    const defined = [...r.stdout.matchAll(/#define MBEDTLS_TLS(1_3)?_(\w+)\s+0x([0-9A-Fa-f]+)/g)]
      .filter(([, , name]) => !name!.includes('ECJPAKE')) // Mbed TLS's private code, not IANA's
      .map(([, , name, code]) => [parseInt(code!, 16), `TLS_${name}`] as const);
    expect(defined.length).to.be.above(100);
    const wrong = defined.filter(([code, name]) => listedSuites().has(code) && listedSuites().get(code) !== name);
    expect(wrong, 'code: Mbed TLS name').to.deep.equal([]);
    const names = new Set(listedSuites().values());
    const preference = (await sourcePreference(build)).filter((n) => !/PSK|ECJPAKE|NULL/.test(n)).map((n) => n.replace(/^TLS1-3-/, 'TLS-').replaceAll('-', '_'));
    expect(preference.filter((n) => !names.has(n))).to.deep.equal([]);
  });
});

describe('native: the cache key', () => {
  it('changes when a source changes, and only then', async () => {
    const tmp = await tempDir();
    try {
      await mkdir(join(tmp.dir, 'host'), { recursive: true });
      await writeFile(join(tmp.dir, 'host', 'config.h'), '#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096\n');
      const first = await sourcesKey(tmp.dir, ['host/config.h'], ['mbedtls-3.6.6']);
      expect(await sourcesKey(tmp.dir, ['host/config.h'], ['mbedtls-3.6.6'])).to.equal(first);
      await writeFile(join(tmp.dir, 'host', 'config.h'), '#define MBEDTLS_SSL_OUT_CONTENT_LEN 16384\n');
      const second = await sourcesKey(tmp.dir, ['host/config.h'], ['mbedtls-3.6.6']);
      expect(second).to.not.equal(first);
      expect(second).to.match(/^[0-9a-f]{16}$/);
      expect(await sourcesKey(tmp.dir, ['host/config.h'], ['mbedtls-3.6.7'])).to.not.equal(second);
    } finally {
      await tmp.remove();
    }
  });
});

/** ciphersuite_preference in library/ssl_ciphersuites.c of the pinned tarball, in Mbed TLS's names. */
async function sourcePreference(build: MbedtlsBuild): Promise<string[]> {
  const tarball = join(build.dir, '..', 'downloads', `mbedtls_${MBEDTLS_VERSION}.orig.tar.bz2`);
  const r = await run('tar', ['-xjOf', tarball, `mbedtls-${MBEDTLS_VERSION}/library/ssl_ciphersuites.c`], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).to.equal(0);
  const body = /static const int ciphersuite_preference\[\] =\s*\{([\s\S]*?)\n\};/.exec(r.stdout)?.[1] ?? '';
  return [...body.matchAll(/\bMBEDTLS_(TLS(?:1_3)?_[A-Z0-9_]+)/g)].map((m) => m[1]!.replaceAll('_', '-'));
}

/** The suites an emulated board with `sdkconfig` (or the device given) puts in its ClientHello, as the reader names them. */
async function offeredSuites(from: ReturnType<typeof parseSdkconfig> | Device): Promise<string[]> {
  let hello: string[] = [];
  const server = net.createServer((socket) => {
    let bytes = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      bytes = Buffer.concat([bytes, chunk]);
      const record = parseClientHello(bytes);
      if (record) {
        hello = record.cipherSuites.map((s) => s.name);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const board = from instanceof Device ? null : openStreamBoard({ sdkconfig: from });
  const device = board ? await Device.open(new MemoryTransport(board.stream, 'emulated ESP32')) : from as Device;
  try {
    // Any CA will do: the server never answers, it only reads the hello.
    const ca = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=any', '-days', '1']);
    await device.store('ca', 'ca', ca.stdout);
    await device.connect('tls.connect', { host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: 'ca', timeout_ms: 5_000 });
  } finally {
    await device.close();
    await board?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return hello;
}
