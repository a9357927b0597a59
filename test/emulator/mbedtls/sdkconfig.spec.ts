/** sdkconfig files as ESP-IDF writes them, and the Mbed TLS configuration they make. */
import { expect } from 'chai';
import {
  OPTIONS, REFERENCE_SDKCONFIG, SdkconfigError, mbedtlsConfigOf, parseSdkconfig, type MbedtlsConfig,
} from '../../../emulator/mbedtls/sdkconfig.ts';

const config = (text: string) => mbedtlsConfigOf(parseSdkconfig(text, 'sdkconfig'));

describe('mbedtls sdkconfig parser', function () {
  const good = [
    '#',
    '# Automatically generated file. DO NOT EDIT.',
    '# Espressif IoT Development Framework (ESP-IDF) 5.5.1 Project Configuration',
    '#',
    'CONFIG_IDF_TARGET="esp32"',
    '',
    'CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=8192',
    'CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=0x800',
    '# CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is not set',
    'CONFIG_MBEDTLS_HAVE_TIME_DATE=y',
    'CONFIG_APP_PROJECT_VER="1.2 \\"beta\\" \\\\ x"',
    'CONFIG_SOMETHING_NEGATIVE=-5',
    '# a comment that is not about an option',
    'CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE=y\r',
  ].join('\n');

  it('reads values, not-set lines, strings with escapes, hex and negative ints, CRLF', function () {
    const cfg = parseSdkconfig(good, 'sdkconfig');
    expect(cfg.source).to.equal('sdkconfig');
    expect(cfg.get('CONFIG_IDF_TARGET')).to.equal('esp32');
    expect(cfg.int('CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN', 0)).to.equal(8192);
    expect(cfg.int('CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN', 0)).to.equal(2048);
    expect(cfg.int('CONFIG_SOMETHING_NEGATIVE', 0)).to.equal(-5);
    expect(cfg.int('CONFIG_ABSENT', 42)).to.equal(42);
    expect(cfg.get('CONFIG_MBEDTLS_SSL_PROTO_TLS1_3')).to.equal('n');
    expect(cfg.bool('CONFIG_MBEDTLS_SSL_PROTO_TLS1_3')).to.equal(false);
    expect(cfg.bool('CONFIG_MBEDTLS_HAVE_TIME_DATE')).to.equal(true);
    expect(cfg.bool('CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE')).to.equal(true);
    expect(cfg.get('CONFIG_APP_PROJECT_VER')).to.equal('1.2 "beta" \\ x');
    expect(cfg.get('CONFIG_ABSENT')).to.equal(undefined);
    expect(cfg.entries()).to.have.length(8);
    expect(cfg.lineOf?.('CONFIG_MBEDTLS_HAVE_TIME_DATE')).to.equal(10);
  });

  it('takes the ESP-IDF version from the generated header', function () {
    expect(config(good).idfVersion).to.equal('v5.5.1');
    expect(config('').idfVersion).to.equal('v5.5');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['a malformed line', 'CONFIG_A=y\nCONFIG_MBEDTLS_DHM_C = y\n', /^sdkconfig:2: cannot read "CONFIG_MBEDTLS_DHM_C = y": write CONFIG_NAME=value/],
    ['a line that is no option at all', 'CONFIG_A=y\n\nMBEDTLS_DHM_C=y\n', /^sdkconfig:3: cannot read/],
    ['an unquoted string', 'CONFIG_X=hello world\n', /^sdkconfig:1: CONFIG_X=hello world is not y, n, a number or a quoted string: quote strings/],
    ['an unterminated string', 'CONFIG_X="hello\n', /^sdkconfig:1: CONFIG_X has an unterminated string/],
    ['a bool the emulator reads set to a number', '\nCONFIG_MBEDTLS_HAVE_TIME_DATE=1\n', /^sdkconfig:2: CONFIG_MBEDTLS_HAVE_TIME_DATE is a bool but is set to "1": write CONFIG_MBEDTLS_HAVE_TIME_DATE=y/],
    ['a record length below 512', 'CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=256\n', /^sdkconfig:1: CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=256 is out of range: ESP-IDF allows 512\.\.16384$/],
    ['a record length above 16384', 'CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=32768\n', /^sdkconfig:1: .* out of range/],
    ['"not set" on a number', '# CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN is not set\n', /^sdkconfig:1: CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN is a number, and only bools can be "not set": write CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=4096 or delete the line$/],
    ['a quoted number', 'CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN="4096"\n', /^sdkconfig:1: CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN must be a number/],
    ['an unquoted target', 'CONFIG_IDF_TARGET=esp32\n', /^sdkconfig:1: CONFIG_IDF_TARGET is a string: quote it, e\.g\. CONFIG_IDF_TARGET="esp32"$/],
    ['an unknown target', 'CONFIG_IDF_TARGET="esp8266"\n', /^sdkconfig:1: CONFIG_IDF_TARGET="esp8266" is not a target/],
    ['a CPU frequency ESP-IDF does not offer', 'CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ=200\n', /^sdkconfig:1: .* use one of 40, 80, 160, 240$/],
    ['two CPU frequencies chosen', 'CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160=y\nCONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240=y\n', /^sdkconfig:2: .* are one choice/],
    ['a CPU frequency int contradicting its choice', 'CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240=y\nCONFIG_ESP_DEFAULT_CPU_FREQ_MHZ=160\n', /^sdkconfig:2: CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ=160 contradicts CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240=y/],
    ['a log level contradicting its choice', 'CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y\nCONFIG_LOG_DEFAULT_LEVEL=3\n', /^sdkconfig:2: .* contradicts CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses ${what}, naming file and line on one line`, function () {
      let error: unknown;
      try {
        parseSdkconfig(text, 'sdkconfig');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(SdkconfigError);
      const msg = (error as Error).message;
      expect(msg).to.match(message);
      expect(msg).to.not.include('\n');
      expect(msg.split(': ').length, msg).to.be.greaterThanOrEqual(3); // FILE:LINE: what: how
    });
  }

  it('int() refuses a value that is not a number, with its line', function () {
    const cfg = parseSdkconfig('CONFIG_A=y\nCONFIG_B="x"\n', 'my.sdkconfig');
    expect(() => cfg.int('CONFIG_B', 0)).to.throw(SdkconfigError, /^my\.sdkconfig:2: CONFIG_B is "x", not a number/);
  });
});

describe('mbedtls sdkconfig: the reference firmware', function () {
  let ref: MbedtlsConfig;
  before(() => { ref = config(REFERENCE_SDKCONFIG); });

  it('parses', function () {
    expect(() => parseSdkconfig(REFERENCE_SDKCONFIG, 'reference')).to.not.throw();
  });

  it('names every option the emulator reads except MAX_CONTENT_LEN (hidden while lengths are asymmetric)', function () {
    const cfg = parseSdkconfig(REFERENCE_SDKCONFIG, 'reference');
    const missing = Object.keys(OPTIONS).filter((name) => cfg.get(name) === undefined);
    expect(missing).to.deep.equal(['CONFIG_MBEDTLS_SSL_MAX_CONTENT_LEN']);
  });

  it('has 16 KB in, 4 KB out, static buffers, peer certificate kept', function () {
    expect(ref).to.include({
      inContentLen: 16384, outContentLen: 4096, asymmetricContentLen: true, dynamicBuffer: false,
      freeConfigData: false, freeCaCert: false, variableBufferLength: false, keepPeerCertificate: true,
    });
  });

  it('checks certificate dates, runs at 240 MHz, logs at INFO without colours', function () {
    expect(ref).to.include({ haveTime: true, haveTimeDate: true, cpuMhz: 240, logLevel: 3, logColors: false, target: 'esp32' });
    expect(ref.idfVersion).to.equal('v5.5.0');
    expect(ref.mbedtlsVersion).to.match(/^3\.6\.\d+$/);
  });

  it('speaks TLS 1.2 only, without ChaCha20, Camellia or DHE', function () {
    expect(ref.tls12).to.equal(true);
    expect(ref.tls13).to.equal(false);
    expect(ref.ciphersuites.filter((s) => /CHACHA|CAMELLIA|^TLS-DHE-|^TLS1-3-/.test(s))).to.deep.equal([]);
    expect(ref.keyExchanges).to.deep.equal(['ECDHE-ECDSA', 'ECDHE-RSA', 'RSA', 'ECDH-ECDSA', 'ECDH-RSA']);
  });

  it('offers ECDHE-ECDSA AES-256-GCM first', function () {
    expect(ref.ciphersuites[0]).to.equal('TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384');
    expect(ref.ciphersuites.slice(0, 4)).to.deep.equal([
      'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384',
      'TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384',
      'TLS-ECDHE-ECDSA-WITH-AES-256-CCM',
      'TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA384',
    ]);
  });

  it('offers the curves Mbed TLS prefers, cheap ones first, none under 255 bits', function () {
    expect(ref.curves).to.deep.equal(['X25519', 'P-256', 'P-384', 'P-521', 'brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1']);
  });

  it('has hardware AES, SHA and MPI', function () {
    expect(ref.hardware).to.deep.equal({ aes: true, sha: true, mpi: true });
  });

  it('differs from an empty sdkconfig (all ESP-IDF v5.5 defaults) only where it says so', function () {
    const defaults = config('');
    const changed = (Object.keys(ref) as Array<keyof MbedtlsConfig>)
      .filter((k) => JSON.stringify(ref[k]) !== JSON.stringify(defaults[k]));
    expect(changed.sort()).to.deep.equal(['cpuMhz', 'haveTimeDate', 'idfVersion']);
    expect(defaults).to.include({ haveTimeDate: false, cpuMhz: 160 });
  });
});

describe('mbedtls sdkconfig: user configurations', function () {
  it('dates off, dynamic buffers on, TLS 1.3 on', function () {
    const cfg = config([
      '# CONFIG_MBEDTLS_HAVE_TIME_DATE is not set',
      'CONFIG_MBEDTLS_DYNAMIC_BUFFER=y',
      'CONFIG_MBEDTLS_DYNAMIC_FREE_CONFIG_DATA=y',
      'CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y',
    ].join('\n'));
    expect(cfg).to.include({ haveTimeDate: false, dynamicBuffer: true, freeConfigData: true, freeCaCert: true, tls12: true, tls13: true });
    expect(cfg.ciphersuites.slice(0, 5)).to.deep.equal([
      'TLS1-3-AES-256-GCM-SHA384', 'TLS1-3-AES-128-GCM-SHA256', 'TLS1-3-AES-128-CCM-SHA256', 'TLS1-3-AES-128-CCM-8-SHA256',
      'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384',
    ]);
  });

  it('symmetric lengths use MBEDTLS_SSL_MAX_CONTENT_LEN both ways, as Mbed TLS does', function () {
    const cfg = config('# CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN is not set\nCONFIG_MBEDTLS_SSL_MAX_CONTENT_LEN=8192\n');
    expect(cfg).to.include({ asymmetricContentLen: false, inContentLen: 8192, outContentLen: 8192 });
    expect(config('# CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN is not set\n')).to.include({ inContentLen: 16384, outContentLen: 16384 });
  });

  it('dynamic buffers select asymmetric lengths; free options need what they depend on', function () {
    const cfg = config('# CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN is not set\nCONFIG_MBEDTLS_DYNAMIC_BUFFER=y\n');
    expect(cfg).to.include({ asymmetricContentLen: true, inContentLen: 16384, outContentLen: 4096, freeConfigData: false, freeCaCert: false });
    expect(config('CONFIG_MBEDTLS_DYNAMIC_FREE_CA_CERT=y\n')).to.include({ freeCaCert: false });
    expect(config('CONFIG_MBEDTLS_DYNAMIC_BUFFER=y\nCONFIG_MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH=y\n')).to.include({ dynamicBuffer: false, variableBufferLength: true });
  });

  it('DHE-RSA needs MBEDTLS_DHM_C; ChaCha20-Poly1305 needs all three of its options', function () {
    expect(config('CONFIG_MBEDTLS_KEY_EXCHANGE_DHE_RSA=y\n').keyExchanges).to.not.include('DHE-RSA');
    const dhe = config('CONFIG_MBEDTLS_DHM_C=y\n');
    expect(dhe.keyExchanges).to.include('DHE-RSA');
    expect(dhe.ciphersuites).to.include('TLS-DHE-RSA-WITH-AES-256-GCM-SHA384');
    expect(config('CONFIG_MBEDTLS_CHACHAPOLY_C=y\n').ciphersuites.some((s) => s.includes('CHACHA'))).to.equal(false);
    const chacha = config('CONFIG_MBEDTLS_CHACHA20_C=y\nCONFIG_MBEDTLS_POLY1305_C=y\nCONFIG_MBEDTLS_CHACHAPOLY_C=y\n');
    expect(chacha.ciphersuites.slice(0, 2)).to.deep.equal([
      'TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256', 'TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256',
    ]);
  });

  it('TLS 1.3 needs the peer certificate kept (Kconfig dependency)', function () {
    expect(config('CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y\n# CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE is not set\n').tls13).to.equal(false);
  });

  it('without elliptic curves only static RSA is left', function () {
    const cfg = config('# CONFIG_MBEDTLS_ECP_C is not set\n');
    expect(cfg.keyExchanges).to.deep.equal(['RSA']);
    expect(cfg.curves).to.deep.equal([]);
    expect(cfg.ciphersuites[0]).to.equal('TLS-RSA-WITH-AES-256-GCM-SHA384');
  });

  it('reads the CPU frequency and log level from the choice alone or from the int', function () {
    expect(config('CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_80=y\n# CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160 is not set\n').cpuMhz).to.equal(80);
    expect(config('CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ=240\n').cpuMhz).to.equal(240);
    expect(config('CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y\n').logLevel).to.equal(4);
    expect(config('CONFIG_LOG_COLORS=y\n').logColors).to.equal(true);
  });

  it('HAVE_TIME_DATE means nothing without HAVE_TIME', function () {
    expect(config('# CONFIG_MBEDTLS_HAVE_TIME is not set\nCONFIG_MBEDTLS_HAVE_TIME_DATE=y\n').haveTimeDate).to.equal(false);
  });
});
