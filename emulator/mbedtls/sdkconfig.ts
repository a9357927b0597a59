/**
 * Reads an ESP-IDF sdkconfig (or a fragment of one) and turns the options that change TLS
 * behaviour into an MbedtlsConfig. A user's partial file works: every option the emulator reads
 * has its ESP-IDF v5.5 default (components/mbedtls/Kconfig and friends), and options whose Kconfig
 * dependencies are unmet are off, as in a real build.
 */
import { enabledSuites, type KeyExchange } from './ciphersuites.ts';

/** One line, one problem: `FILE:LINE: what is wrong: how to fix`. */
export class SdkconfigError extends Error {
  override name = 'SdkconfigError';
}

export interface Sdkconfig {
  /** Where the text came from, for messages. */
  source: string;
  /** Value as written (strings unquoted and unescaped; `# CONFIG_X is not set` reads 'n'). */
  get(name: string): string | undefined;
  /** True only for `=y`. */
  bool(name: string): boolean;
  int(name: string, fallback: number): number;
  entries(): Array<[string, string]>;
  /** Line a name was set on, when the text came from a file. */
  lineOf?(name: string): number | undefined;
}

type Spec =
  | { kind: 'bool'; default: boolean }
  | { kind: 'int'; default: number; min?: number; max?: number; allowed?: readonly number[] }
  | { kind: 'string'; default: string; allowed?: readonly string[] };

const bool = (d: boolean): Spec => ({ kind: 'bool', default: d });
const contentLen = (d: number): Spec => ({ kind: 'int', default: d, min: 512, max: 16384 });

/**
 * Every option the emulator reads, with its ESP-IDF v5.5 default for the ESP32 target.
 * Choices (CPU frequency, log level) are a bool per entry plus the int Kconfig derives.
 */
export const OPTIONS: Readonly<Record<string, Spec>> = {
  CONFIG_IDF_TARGET: {
    kind: 'string', default: 'esp32',
    allowed: ['esp32', 'esp32s2', 'esp32s3', 'esp32c2', 'esp32c3', 'esp32c5', 'esp32c6', 'esp32c61', 'esp32h2', 'esp32p4', 'linux'],
  },
  CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_80: bool(false),
  CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160: bool(true),
  CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240: bool(false),
  CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ: { kind: 'int', default: 160, allowed: [40, 80, 160, 240] },
  CONFIG_LOG_DEFAULT_LEVEL_NONE: bool(false),
  CONFIG_LOG_DEFAULT_LEVEL_ERROR: bool(false),
  CONFIG_LOG_DEFAULT_LEVEL_WARN: bool(false),
  CONFIG_LOG_DEFAULT_LEVEL_INFO: bool(true),
  CONFIG_LOG_DEFAULT_LEVEL_DEBUG: bool(false),
  CONFIG_LOG_DEFAULT_LEVEL_VERBOSE: bool(false),
  CONFIG_LOG_DEFAULT_LEVEL: { kind: 'int', default: 3, min: 0, max: 5 },
  // Up to v5.3 the default was y; since the v5.4 log rework (Kconfig.format) it is n.
  CONFIG_LOG_COLORS: bool(false),

  CONFIG_MBEDTLS_HAVE_TIME: bool(true),
  CONFIG_MBEDTLS_HAVE_TIME_DATE: bool(false),
  CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN: bool(true),
  CONFIG_MBEDTLS_SSL_MAX_CONTENT_LEN: contentLen(16384),
  CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN: contentLen(16384),
  CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN: contentLen(4096),
  CONFIG_MBEDTLS_DYNAMIC_BUFFER: bool(false),
  CONFIG_MBEDTLS_DYNAMIC_FREE_CONFIG_DATA: bool(false),
  CONFIG_MBEDTLS_DYNAMIC_FREE_CA_CERT: bool(true),
  CONFIG_MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH: bool(false),
  CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE: bool(true),
  CONFIG_MBEDTLS_SSL_PROTO_TLS1_2: bool(true),
  CONFIG_MBEDTLS_SSL_PROTO_TLS1_3: bool(false),

  CONFIG_MBEDTLS_KEY_EXCHANGE_RSA: bool(true),
  CONFIG_MBEDTLS_KEY_EXCHANGE_DHE_RSA: bool(true),
  CONFIG_MBEDTLS_KEY_EXCHANGE_ELLIPTIC_CURVE: bool(true),
  CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_RSA: bool(true),
  CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA: bool(true),
  CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA: bool(true),
  CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_RSA: bool(true),
  CONFIG_MBEDTLS_DHM_C: bool(false),
  CONFIG_MBEDTLS_ECP_C: bool(true),
  CONFIG_MBEDTLS_ECDH_C: bool(true),
  CONFIG_MBEDTLS_ECDSA_C: bool(true),

  CONFIG_MBEDTLS_AES_C: bool(true),
  CONFIG_MBEDTLS_CAMELLIA_C: bool(false),
  CONFIG_MBEDTLS_DES_C: bool(false),
  CONFIG_MBEDTLS_GCM_C: bool(true),
  CONFIG_MBEDTLS_CCM_C: bool(true),
  CONFIG_MBEDTLS_CHACHA20_C: bool(false),
  CONFIG_MBEDTLS_POLY1305_C: bool(false),
  CONFIG_MBEDTLS_CHACHAPOLY_C: bool(false),
  CONFIG_MBEDTLS_SHA1_C: bool(true),
  CONFIG_MBEDTLS_SHA512_C: bool(true),

  CONFIG_MBEDTLS_ECP_DP_SECP192R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP224R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP521R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP192K1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP224K1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_SECP256K1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_BP256R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_BP384R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_BP512R1_ENABLED: bool(true),
  CONFIG_MBEDTLS_ECP_DP_CURVE25519_ENABLED: bool(true),

  CONFIG_MBEDTLS_HARDWARE_AES: bool(true),
  CONFIG_MBEDTLS_HARDWARE_SHA: bool(true),
  CONFIG_MBEDTLS_HARDWARE_MPI: bool(true),
};

/**
 * The sdkconfig fragment of hilt's reference agent firmware: ESP-IDF v5.5 defaults, except that
 * certificate dates are checked (CONFIG_MBEDTLS_HAVE_TIME_DATE=y; the agent sets the clock by
 * SNTP or the harness) and the CPU runs at 240 MHz (ESP-IDF's ESP32 default is 160).
 */
export const REFERENCE_SDKCONFIG = `#
# Automatically generated file. DO NOT EDIT.
# Espressif IoT Development Framework (ESP-IDF) 5.5.0 Project Configuration
#
# hilt reference agent firmware: ESP-IDF v5.5 defaults for every option hilt's emulator reads,
# except CONFIG_MBEDTLS_HAVE_TIME_DATE (certificate dates checked) and the 240 MHz CPU clock.
#
CONFIG_IDF_TARGET="esp32"

#
# CPU frequency
#
# CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_80 is not set
# CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160 is not set
CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240=y
CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ=240

#
# Log
#
# CONFIG_LOG_DEFAULT_LEVEL_NONE is not set
# CONFIG_LOG_DEFAULT_LEVEL_ERROR is not set
# CONFIG_LOG_DEFAULT_LEVEL_WARN is not set
CONFIG_LOG_DEFAULT_LEVEL_INFO=y
# CONFIG_LOG_DEFAULT_LEVEL_DEBUG is not set
# CONFIG_LOG_DEFAULT_LEVEL_VERBOSE is not set
CONFIG_LOG_DEFAULT_LEVEL=3
# CONFIG_LOG_COLORS is not set

#
# mbedTLS
#
CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN=y
CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=16384
CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=4096
# CONFIG_MBEDTLS_DYNAMIC_BUFFER is not set
# CONFIG_MBEDTLS_DYNAMIC_FREE_CONFIG_DATA is not set
# CONFIG_MBEDTLS_DYNAMIC_FREE_CA_CERT is not set
# CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is not set
# CONFIG_MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH is not set
CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE=y
CONFIG_MBEDTLS_HARDWARE_AES=y
CONFIG_MBEDTLS_HARDWARE_MPI=y
CONFIG_MBEDTLS_HARDWARE_SHA=y
CONFIG_MBEDTLS_HAVE_TIME=y
CONFIG_MBEDTLS_HAVE_TIME_DATE=y
CONFIG_MBEDTLS_SHA1_C=y
CONFIG_MBEDTLS_SHA512_C=y

#
# TLS Key Exchange Methods
#
CONFIG_MBEDTLS_KEY_EXCHANGE_RSA=y
# CONFIG_MBEDTLS_KEY_EXCHANGE_DHE_RSA is not set
CONFIG_MBEDTLS_KEY_EXCHANGE_ELLIPTIC_CURVE=y
CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_RSA=y
CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA=y
CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA=y
CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_RSA=y
# end of TLS Key Exchange Methods

CONFIG_MBEDTLS_SSL_PROTO_TLS1_2=y

#
# Symmetric Ciphers
#
CONFIG_MBEDTLS_AES_C=y
# CONFIG_MBEDTLS_CAMELLIA_C is not set
# CONFIG_MBEDTLS_DES_C is not set
CONFIG_MBEDTLS_CCM_C=y
CONFIG_MBEDTLS_GCM_C=y
# end of Symmetric Ciphers

CONFIG_MBEDTLS_ECP_C=y
# CONFIG_MBEDTLS_DHM_C is not set
CONFIG_MBEDTLS_ECDH_C=y
CONFIG_MBEDTLS_ECDSA_C=y
CONFIG_MBEDTLS_ECP_DP_SECP192R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP224R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP521R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP192K1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP224K1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_SECP256K1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_BP256R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_BP384R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_BP512R1_ENABLED=y
CONFIG_MBEDTLS_ECP_DP_CURVE25519_ENABLED=y
# CONFIG_MBEDTLS_POLY1305_C is not set
# CONFIG_MBEDTLS_CHACHA20_C is not set
# CONFIG_MBEDTLS_CHACHAPOLY_C is not set
# end of mbedTLS
`;

interface Entry {
  value: string;
  line: number;
  quoted: boolean;
  /** Came from a `# CONFIG_X is not set` line. */
  notSet?: boolean;
}

const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;
const HEADER = /^# Espressif IoT Development Framework \(ESP-IDF\) (\S+) Project Configuration$/;
const INT = /^-?[0-9]+$|^0x[0-9a-fA-F]+$/;

function unquote(raw: string): string | null {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(raw);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : null;
}

function parseInt10or16(text: string): number {
  return text.startsWith('0x') ? Number.parseInt(text.slice(2), 16) : Number.parseInt(text, 10);
}

class ParsedSdkconfig implements Sdkconfig {
  constructor(
    readonly source: string,
    private readonly values: Map<string, Entry>,
    /** Version from the "Espressif IoT Development Framework (ESP-IDF) X Project Configuration" header. */
    readonly idfVersion: string | null,
  ) {}

  get(name: string): string | undefined {
    return this.values.get(name)?.value;
  }

  bool(name: string): boolean {
    return this.get(name) === 'y';
  }

  int(name: string, fallback: number): number {
    const entry = this.values.get(name);
    if (!entry) return fallback;
    if (entry.quoted || !INT.test(entry.value)) {
      throw new SdkconfigError(`${this.source}:${entry.line}: ${name} is ${JSON.stringify(entry.value)}, not a number: write a decimal or 0x hex value`);
    }
    return parseInt10or16(entry.value);
  }

  entries(): Array<[string, string]> {
    return [...this.values].map(([name, e]) => [name, e.value]);
  }

  lineOf(name: string): number | undefined {
    return this.values.get(name)?.line;
  }
}

/** Checks a value the emulator reads against its Kconfig type and range. */
function validate(source: string, name: string, entry: Entry, spec: Spec): void {
  const at = `${source}:${entry.line}`;
  if (entry.notSet && spec.kind !== 'bool') {
    throw new SdkconfigError(`${at}: ${name} is ${spec.kind === 'int' ? 'a number' : 'a string'}, and only bools can be "not set": write ${name}=${spec.kind === 'int' ? spec.default : `"${spec.default}"`} or delete the line`);
  }
  switch (spec.kind) {
    case 'bool':
      if (entry.quoted || (entry.value !== 'y' && entry.value !== 'n')) {
        throw new SdkconfigError(`${at}: ${name} is a bool but is set to ${JSON.stringify(entry.value)}: write ${name}=y or # ${name} is not set`);
      }
      return;
    case 'int': {
      if (entry.quoted || !INT.test(entry.value)) {
        throw new SdkconfigError(`${at}: ${name} must be a number, not ${JSON.stringify(entry.value)}: write e.g. ${name}=${spec.default}`);
      }
      const n = parseInt10or16(entry.value);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new SdkconfigError(`${at}: ${name}=${n} is out of range: ESP-IDF allows ${spec.min}..${spec.max}`);
      }
      if (spec.allowed && !spec.allowed.includes(n)) {
        throw new SdkconfigError(`${at}: ${name}=${n} is not a choice ESP-IDF offers: use one of ${spec.allowed.join(', ')}`);
      }
      return;
    }
    case 'string':
      if (!entry.quoted) {
        throw new SdkconfigError(`${at}: ${name} is a string: quote it, e.g. ${name}="${entry.value}"`);
      }
      if (spec.allowed && !spec.allowed.includes(entry.value)) {
        throw new SdkconfigError(`${at}: ${name}="${entry.value}" is not a target ESP-IDF v5.5 knows: use one of ${spec.allowed.join(', ')}`);
      }
  }
}

/** The value a Kconfig choice's bools select, checked against the int written beside it. */
function checkChoice(cfg: ParsedSdkconfig, intName: string, bools: ReadonlyArray<readonly [string, number]>): void {
  const chosen = bools.filter(([name]) => cfg.bool(name));
  const at = (name: string) => `${cfg.source}:${cfg.lineOf(name)}`;
  if (chosen.length > 1) {
    const [, second] = chosen;
    throw new SdkconfigError(`${at(second![0])}: ${chosen.map(([n]) => n).join(' and ')} are one choice: keep one of them =y`);
  }
  const [only] = chosen;
  if (only && cfg.get(intName) !== undefined && cfg.int(intName, only[1]) !== only[1]) {
    throw new SdkconfigError(`${at(intName)}: ${intName}=${cfg.get(intName)} contradicts ${only[0]}=y: make them agree (${intName}=${only[1]})`);
  }
}

const CPU_CHOICE = [
  ['CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_80', 80], ['CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160', 160], ['CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240', 240],
] as const;
const LOG_CHOICE = [
  ['CONFIG_LOG_DEFAULT_LEVEL_NONE', 0], ['CONFIG_LOG_DEFAULT_LEVEL_ERROR', 1], ['CONFIG_LOG_DEFAULT_LEVEL_WARN', 2],
  ['CONFIG_LOG_DEFAULT_LEVEL_INFO', 3], ['CONFIG_LOG_DEFAULT_LEVEL_DEBUG', 4], ['CONFIG_LOG_DEFAULT_LEVEL_VERBOSE', 5],
] as const;

/**
 * Parses sdkconfig text: `CONFIG_X=y`, `CONFIG_X=123`, `CONFIG_X=0x10`, `CONFIG_X="text"`,
 * `# CONFIG_X is not set`, comments and blank lines. Anything else, and any value of an option
 * the emulator reads that ESP-IDF would not accept, is a SdkconfigError naming the line.
 */
export function parseSdkconfig(text: string, source: string): Sdkconfig {
  const values = new Map<string, Entry>();
  let idfVersion: string | null = null;
  text.split('\n').forEach((rawLine, index) => {
    const line = index + 1;
    const content = rawLine.replace(/\r$/, '').trimEnd();
    if (content.trim() === '') return;
    const set = SET.exec(content);
    if (set) {
      const [, name, raw] = set as unknown as [string, string, string];
      const str = raw.startsWith('"') ? unquote(raw) : null;
      if (raw.startsWith('"') && str === null) {
        throw new SdkconfigError(`${source}:${line}: ${name} has an unterminated string ${raw}: close the quotes and escape inner quotes as \\"`);
      }
      if (str === null && !/^(y|n|m)$/.test(raw) && !INT.test(raw)) {
        if (OPTIONS[name]?.kind === 'string') {
          throw new SdkconfigError(`${source}:${line}: ${name} is a string: quote it, e.g. ${name}="${raw}"`);
        }
        throw new SdkconfigError(`${source}:${line}: ${name}=${raw} is not y, n, a number or a quoted string: quote strings (${name}="${raw}")`);
      }
      values.set(name, { value: str ?? raw, line, quoted: str !== null });
      return;
    }
    const notSet = NOT_SET.exec(content);
    if (notSet) {
      values.set(notSet[1]!, { value: 'n', line, quoted: false, notSet: true });
      return;
    }
    if (content.startsWith('#')) {
      const header = HEADER.exec(content);
      if (header) idfVersion = `v${header[1]!}`;
      return;
    }
    throw new SdkconfigError(`${source}:${line}: cannot read ${JSON.stringify(content.length > 60 ? `${content.slice(0, 57)}...` : content)}: write CONFIG_NAME=value or # CONFIG_NAME is not set (no spaces around =)`);
  });
  const cfg = new ParsedSdkconfig(source, values, idfVersion);
  for (const [name, entry] of values) {
    const spec = OPTIONS[name];
    if (spec) validate(source, name, entry, spec);
  }
  checkChoice(cfg, 'CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ', CPU_CHOICE);
  checkChoice(cfg, 'CONFIG_LOG_DEFAULT_LEVEL', LOG_CHOICE);
  return cfg;
}

export interface MbedtlsConfig {
  /** Mbed TLS release ESP-IDF v5.5 ships (3.6 LTS). */
  mbedtlsVersion: string;
  idfVersion: string;
  target: string;
  haveTime: boolean;
  /** Certificate dates checked (MBEDTLS_HAVE_TIME_DATE); off by default in ESP-IDF. */
  haveTimeDate: boolean;
  inContentLen: number;
  outContentLen: number;
  asymmetricContentLen: boolean;
  dynamicBuffer: boolean;
  freeConfigData: boolean;
  freeCaCert: boolean;
  variableBufferLength: boolean;
  keepPeerCertificate: boolean;
  tls12: boolean;
  tls13: boolean;
  /** TLS 1.2 key exchanges compiled in. */
  keyExchanges: KeyExchange[];
  ciphers: { aes: boolean; gcm: boolean; ccm: boolean; cbc: boolean; chachaPoly: boolean; camellia: boolean; des: boolean };
  hashes: { sha1: boolean; sha384: boolean };
  /** Groups offered, OpenSSL/Node names, in Mbed TLS's order (ssl_preset_default_groups). */
  curves: string[];
  hardware: { aes: boolean; sha: boolean; mpi: boolean };
  cpuMhz: number;
  logLevel: number;
  logColors: boolean;
  /** Mbed TLS names, offer order. */
  ciphersuites: string[];
}

export const MBEDTLS_VERSION = '3.6.3';
export const IDF_VERSION = 'v5.5';

/**
 * ssl_preset_default_groups (ssl_tls.c, 3.6): cheap curves first; only curves of at least 255
 * bits are offered, so secp192r1/224r1/256k1 stay out even when compiled in. ESP-IDF has no
 * Curve448 option.
 */
const GROUPS: ReadonlyArray<readonly [string, string]> = [
  ['X25519', 'CONFIG_MBEDTLS_ECP_DP_CURVE25519_ENABLED'],
  ['P-256', 'CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED'],
  ['P-384', 'CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED'],
  ['P-521', 'CONFIG_MBEDTLS_ECP_DP_SECP521R1_ENABLED'],
  ['brainpoolP256r1', 'CONFIG_MBEDTLS_ECP_DP_BP256R1_ENABLED'],
  ['brainpoolP384r1', 'CONFIG_MBEDTLS_ECP_DP_BP384R1_ENABLED'],
  ['brainpoolP512r1', 'CONFIG_MBEDTLS_ECP_DP_BP512R1_ENABLED'],
];

/** The Mbed TLS configuration a build with this sdkconfig has. */
export function mbedtlsConfigOf(cfg: Sdkconfig): MbedtlsConfig {
  const on = (name: string): boolean => {
    const value = cfg.get(name);
    if (value === undefined) {
      const spec = OPTIONS[name];
      return spec?.kind === 'bool' ? spec.default : false;
    }
    return value === 'y';
  };
  const num = (name: string): number => {
    const spec = OPTIONS[name];
    return cfg.int(name, spec?.kind === 'int' ? spec.default : 0);
  };
  const choice = (intName: string, bools: ReadonlyArray<readonly [string, number]>): number => {
    if (cfg.get(intName) !== undefined) return num(intName);
    const chosen = bools.find(([name]) => cfg.get(name) === 'y');
    return chosen ? chosen[1] : num(intName);
  };

  // Kconfig dependencies: an option whose dependency is off is off, whatever the file says.
  const variableBufferLength = on('CONFIG_MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH');
  const dynamicBuffer = on('CONFIG_MBEDTLS_DYNAMIC_BUFFER') && !variableBufferLength;
  const asymmetricContentLen = on('CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN') || dynamicBuffer; // DYNAMIC_BUFFER selects it
  const freeConfigData = dynamicBuffer && on('CONFIG_MBEDTLS_DYNAMIC_FREE_CONFIG_DATA');
  const freeCaCert = freeConfigData && on('CONFIG_MBEDTLS_DYNAMIC_FREE_CA_CERT');
  const keepPeerCertificate = on('CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE');
  // Without asymmetric lengths Mbed TLS sizes both directions from MBEDTLS_SSL_MAX_CONTENT_LEN.
  const maxLen = num('CONFIG_MBEDTLS_SSL_MAX_CONTENT_LEN');
  const inContentLen = asymmetricContentLen ? num('CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN') : maxLen;
  const outContentLen = asymmetricContentLen ? num('CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN') : maxLen;

  const ecp = on('CONFIG_MBEDTLS_ECP_C');
  const ecdh = ecp && on('CONFIG_MBEDTLS_ECDH_C');
  const ecdsa = ecdh && on('CONFIG_MBEDTLS_ECDSA_C');
  const ecKex = ecp && on('CONFIG_MBEDTLS_KEY_EXCHANGE_ELLIPTIC_CURVE');
  const kexOn: Record<KeyExchange, boolean> = {
    'ECDHE-ECDSA': ecKex && ecdsa && on('CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA'),
    'ECDHE-RSA': ecKex && ecdh && on('CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_RSA'),
    'DHE-RSA': on('CONFIG_MBEDTLS_DHM_C') && on('CONFIG_MBEDTLS_KEY_EXCHANGE_DHE_RSA'),
    RSA: on('CONFIG_MBEDTLS_KEY_EXCHANGE_RSA'),
    'ECDH-ECDSA': ecKex && ecdsa && on('CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA'),
    'ECDH-RSA': ecKex && ecdh && on('CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_RSA'),
  };

  const aes = on('CONFIG_MBEDTLS_AES_C');
  const camellia = on('CONFIG_MBEDTLS_CAMELLIA_C');
  const ciphers = {
    aes,
    camellia,
    gcm: (aes || camellia) && on('CONFIG_MBEDTLS_GCM_C'),
    ccm: (aes || camellia) && on('CONFIG_MBEDTLS_CCM_C'),
    // ESP-IDF's esp_config.h always defines MBEDTLS_CIPHER_MODE_CBC: there is no option for it.
    cbc: true,
    chachaPoly: on('CONFIG_MBEDTLS_CHACHA20_C') && on('CONFIG_MBEDTLS_POLY1305_C') && on('CONFIG_MBEDTLS_CHACHAPOLY_C'),
    des: on('CONFIG_MBEDTLS_DES_C'),
  };
  const tls12 = on('CONFIG_MBEDTLS_SSL_PROTO_TLS1_2');
  // Kconfig: MBEDTLS_SSL_PROTO_TLS1_3 depends on MBEDTLS_SSL_KEEP_PEER_CERTIFICATE.
  const tls13 = on('CONFIG_MBEDTLS_SSL_PROTO_TLS1_3') && keepPeerCertificate;
  const hashes = { sha1: on('CONFIG_MBEDTLS_SHA1_C'), sha384: on('CONFIG_MBEDTLS_SHA512_C') };
  const keyExchanges = (Object.keys(kexOn) as KeyExchange[]).filter((k) => kexOn[k]);

  const selection = { tls12, tls13, keyExchanges, ciphers, hashes };
  const haveTime = on('CONFIG_MBEDTLS_HAVE_TIME');
  const idfVersion = cfg instanceof ParsedSdkconfig && cfg.idfVersion ? cfg.idfVersion : IDF_VERSION;
  return {
    mbedtlsVersion: MBEDTLS_VERSION,
    idfVersion,
    target: cfg.get('CONFIG_IDF_TARGET') ?? 'esp32',
    haveTime,
    haveTimeDate: haveTime && on('CONFIG_MBEDTLS_HAVE_TIME_DATE'),
    inContentLen,
    outContentLen,
    asymmetricContentLen,
    dynamicBuffer,
    freeConfigData,
    freeCaCert,
    variableBufferLength,
    keepPeerCertificate,
    tls12,
    tls13,
    keyExchanges,
    ciphers,
    hashes,
    curves: ecp ? GROUPS.filter(([, option]) => on(option)).map(([group]) => group) : [],
    hardware: { aes: on('CONFIG_MBEDTLS_HARDWARE_AES'), sha: on('CONFIG_MBEDTLS_HARDWARE_SHA'), mpi: on('CONFIG_MBEDTLS_HARDWARE_MPI') },
    cpuMhz: choice('CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ', CPU_CHOICE),
    logLevel: choice('CONFIG_LOG_DEFAULT_LEVEL', LOG_CHOICE),
    logColors: on('CONFIG_LOG_COLORS'),
    ciphersuites: enabledSuites(selection).map((s) => s.mbedtls),
  };
}
