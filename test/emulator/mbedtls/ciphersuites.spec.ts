/** The suite table, its OpenSSL names judged by the local OpenSSL, and what a config offers. */
import { expect } from 'chai';
import { createSecureContext } from 'node:tls';
import {
  SUITES, enabledSuites, opensslCipherList, suiteByMbedtls, suiteByOpenssl, type Suite,
} from '../../../emulator/mbedtls/ciphersuites.ts';
import { REFERENCE_SDKCONFIG, mbedtlsConfigOf, parseSdkconfig } from '../../../emulator/mbedtls/sdkconfig.ts';
import { run } from '../../helpers.ts';

const TLS13 = SUITES.filter((s) => s.version === 'TLSv1.3').map((s) => s.openssl).join(':');

/** IANA name of a suite, from its Mbed TLS name (the two spell the same words). */
const iana = (s: Suite) => s.mbedtls.replace(/^TLS1-3-/, 'TLS_').replace(/-/g, '_');

describe('mbedtls ciphersuites', function () {
  let openssl: Map<string, { std: string; version: string }>;

  before(async function () {
    const { stdout } = await run('openssl', ['ciphers', '-stdname', '-ciphersuites', TLS13, 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
    openssl = new Map();
    for (const line of stdout.split('\n')) {
      const m = /^(\S+)\s+-\s+(\S+)\s+(\S+)/.exec(line);
      if (m) openssl.set(m[2]!, { std: m[1]!, version: m[3]! });
    }
  });

  it('names each suite once, in both spellings', function () {
    const mbed = SUITES.map((s) => s.mbedtls);
    const ossl = SUITES.map((s) => s.openssl).filter(Boolean);
    expect(new Set(mbed).size).to.equal(mbed.length);
    expect(new Set(ossl).size).to.equal(ossl.length);
  });

  it('every OpenSSL name is one the local OpenSSL knows, for the same IANA suite and version', function () {
    for (const suite of SUITES.filter((s) => s.openssl !== '')) {
      const known = openssl.get(suite.openssl);
      expect(known, suite.openssl).to.not.equal(undefined);
      expect(known!.std, suite.mbedtls).to.equal(iana(suite));
      expect(known!.version === 'TLSv1.3', suite.mbedtls).to.equal(suite.version === 'TLSv1.3');
    }
  });

  it('leaves OpenSSL\'s name empty exactly where OpenSSL has no such suite (static ECDH, Camellia-GCM, ARIA-CBC)', function () {
    const stdNames = new Set([...openssl.values()].map((v) => v.std));
    for (const suite of SUITES.filter((s) => s.openssl === '')) {
      expect(stdNames.has(iana(suite)), suite.mbedtls).to.equal(false);
      expect(suite.kex?.startsWith('ECDH-') || suite.cipher.startsWith('CAMELLIA') && suite.cipher.includes('GCM')
        || suite.cipher.startsWith('ARIA') && suite.cipher.includes('CBC'), suite.mbedtls).to.equal(true);
    }
  });

  it('describes suites from their names', function () {
    expect(suiteByMbedtls('TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8')).to.deep.equal({
      mbedtls: 'TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8', openssl: 'ECDHE-ECDSA-AES128-CCM8', version: 'TLSv1.2',
      kex: 'ECDHE-ECDSA', cipher: 'AES-128-CCM-8', aead: true, hash: 'SHA256',
    });
    expect(suiteByMbedtls('TLS-RSA-WITH-AES-256-CBC-SHA')).to.include({ kex: 'RSA', cipher: 'AES-256-CBC', aead: false, hash: 'SHA1' });
    expect(suiteByMbedtls('TLS1-3-AES-256-GCM-SHA384')).to.include({ version: 'TLSv1.3', kex: null, cipher: 'AES-256-GCM', openssl: 'TLS_AES_256_GCM_SHA384' });
  });

  it('finds suites by OpenSSL name, case-sensitively', function () {
    expect(suiteByOpenssl('ECDHE-ECDSA-AES128-GCM-SHA256')?.mbedtls).to.equal('TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256');
    expect(suiteByOpenssl('TLS_AES_128_GCM_SHA256')?.mbedtls).to.equal('TLS1-3-AES-128-GCM-SHA256');
    expect(suiteByOpenssl('ecdhe-ecdsa-aes128-gcm-sha256')).to.equal(undefined);
    expect(suiteByOpenssl('')).to.equal(undefined);
    expect(suiteByOpenssl('ECDHE-ECDSA-ARIA128-GCM-SHA256')?.mbedtls).to.equal('TLS-ECDHE-ECDSA-WITH-ARIA-128-GCM-SHA256');
    expect(suiteByMbedtls('TLS-PSK-WITH-AES-128-GCM-SHA256')).to.equal(undefined);
  });

  describe('what the reference firmware offers', function () {
    const offered = () => enabledSuites(mbedtlsConfigOf(parseSdkconfig(REFERENCE_SDKCONFIG, 'reference')));

    it('every ECDHE suite before any static RSA or ECDH suite', function () {
      const list = offered();
      const lastEcdhe = list.map((s) => s.kex?.startsWith('ECDHE') ?? false).lastIndexOf(true);
      const firstStatic = list.findIndex((s) => !s.kex?.startsWith('ECDHE'));
      expect(lastEcdhe).to.be.lessThan(firstStatic);
    });

    it('for ECDHE-ECDSA: AES-256 before AES-128, GCM before CCM before CBC within each, ARIA after AES', function () {
      const ecdsa = offered().filter((s) => s.kex === 'ECDHE-ECDSA').map((s) => s.cipher + (s.hash === 'SHA1' ? '/SHA1' : ''));
      expect(ecdsa).to.deep.equal([
        'AES-256-GCM', 'AES-256-CCM', 'AES-256-CBC', 'AES-256-CBC/SHA1', 'AES-256-CCM-8', 'ARIA-256-GCM', 'ARIA-256-CBC',
        'AES-128-GCM', 'AES-128-CCM', 'AES-128-CBC', 'AES-128-CBC/SHA1', 'AES-128-CCM-8', 'ARIA-128-GCM', 'ARIA-128-CBC',
      ]);
    });

    it('no ChaCha20-Poly1305, Camellia, DHE or TLS 1.3 suite', function () {
      expect(offered().filter((s) => /CHACHA|CAMELLIA/.test(s.cipher) || s.kex === 'DHE-RSA' || s.version === 'TLSv1.3')).to.deep.equal([]);
    });

    it('gives Node a cipher list it accepts, without suites OpenSSL lacks', function () {
      const list = opensslCipherList(offered());
      expect(list.split(':')[0]).to.equal('ECDHE-ECDSA-AES256-GCM-SHA384');
      expect(list).to.not.include('::');
      expect(list.split(':')).to.have.length(offered().filter((s) => s.openssl).length);
      expect(() => createSecureContext({ ciphers: list })).to.not.throw();
    });

    it('its curves are a group list Node accepts', function () {
      const cfg = mbedtlsConfigOf(parseSdkconfig(REFERENCE_SDKCONFIG, 'reference'));
      expect(() => createSecureContext({ ecdhCurve: cfg.curves.join(':') })).to.not.throw();
    });
  });

  it('with TLS 1.3 on, the TLS_ names go in the same list first', function () {
    const cfg = mbedtlsConfigOf(parseSdkconfig('CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y\n', 'tls13'));
    const list = opensslCipherList(enabledSuites(cfg)).split(':');
    expect(list.slice(0, 4)).to.deep.equal(['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256']);
    expect(() => createSecureContext({ ciphers: list.join(':') })).to.not.throw();
  });

  it('a TLS 1.3-only device offers no TLS 1.2 suite', function () {
    const cfg = mbedtlsConfigOf(parseSdkconfig('CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y\n# CONFIG_MBEDTLS_SSL_PROTO_TLS1_2 is not set\n', 'tls13only'));
    expect(enabledSuites(cfg).every((s) => s.version === 'TLSv1.3')).to.equal(true);
  });

  it('without SHA-1 the CBC-SHA suites go; without SHA-512 the SHA-384 ones', function () {
    const noSha1 = mbedtlsConfigOf(parseSdkconfig('# CONFIG_MBEDTLS_SHA1_C is not set\n', 'x'));
    expect(enabledSuites(noSha1).some((s) => s.hash === 'SHA1')).to.equal(false);
    const noSha512 = mbedtlsConfigOf(parseSdkconfig('# CONFIG_MBEDTLS_SHA512_C is not set\n', 'x'));
    expect(noSha512.ciphersuites[0]).to.equal('TLS-ECDHE-ECDSA-WITH-AES-256-CCM');
  });

  it('Camellia on adds the Camellia suites where Mbed TLS ranks them', function () {
    const cfg = mbedtlsConfigOf(parseSdkconfig('CONFIG_MBEDTLS_CAMELLIA_C=y\n', 'x'));
    const names = cfg.ciphersuites;
    expect(names.indexOf('TLS-ECDHE-ECDSA-WITH-CAMELLIA-256-GCM-SHA384')).to.equal(names.indexOf('TLS-ECDHE-ECDSA-WITH-AES-256-CCM-8') + 1);
  });
});
