/**
 * What the emulated application firmware is built with: broker, credentials, MQTT session,
 * reconnect policy, time scale and deliberate defects. A settings file is JSON of the same shape;
 * parseAppSettings refuses anything it does not know in one line that names the file and the key.
 */

export type AppDefect = 'no-verify' | 'no-hostname-check' | 'no-alert' | 'constant-backoff' | 'linear-backoff'
  | 'no-jitter' | 'new-packet-id-on-retry' | 'no-pingreq-while-busy' | 'resubscribe-on-session' | 'small-in-buffer'
  | 'stack-overflow';

export const APP_DEFECTS: readonly AppDefect[] = [
  'no-verify', 'no-hostname-check', 'no-alert', 'constant-backoff', 'linear-backoff', 'no-jitter',
  'new-packet-id-on-retry', 'no-pingreq-while-busy', 'resubscribe-on-session', 'small-in-buffer', 'stack-overflow',
];

export interface ReconnectPolicy {
  policy: 'esp-mqtt' | 'backoff-jitter';
  /** esp-mqtt's network.reconnect_timeout_ms (MQTT_RECON_DEFAULT_MS: 10 s). */
  reconnectTimeoutMs?: number;
  /** backoff-jitter: the shortest and the longest wait. */
  baseMs?: number;
  capMs?: number;
}

export interface AppSettings {
  brokerUri: string;
  caPem: string;
  certPem: string | null;
  keyPem: string | null;
  clientId: string;
  /** esp-mqtt default 120 s (MQTT_KEEPALIVE_TICK). */
  keepaliveS?: number;
  /** default true. */
  cleanSession?: boolean;
  /** default [`devices/${clientId}/cmd`], subscribed with QoS 1. */
  subscribe?: string[];
  /** default `devices/${clientId}/telemetry`. */
  publishTopic?: string;
  /** default 5000, QoS 1. */
  publishPeriodMs?: number;
  reconnect?: ReconnectPolicy;
  /** Multiplies every duration of the app (1 = real ESP32 timing; CI uses e.g. 0.05). */
  timeScale?: number;
  defects?: AppDefect[];
  /** CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN, default 16384. */
  inContentLen?: number;
}

export class AppSettingsError extends Error {
  override name = 'AppSettingsError';
}

/** The IN_CONTENT_LEN the 'small-in-buffer' defect builds with (a common "save RAM" setting). */
export const SMALL_IN_CONTENT_LEN = 4096;

/** Every default filled in: what the app actually runs with. */
export interface ResolvedSettings extends Required<Omit<AppSettings, 'reconnect'>> {
  reconnect: Required<ReconnectPolicy>;
  host: string;
  port: number;
}

export function resolveSettings(s: AppSettings): ResolvedSettings {
  const url = parseBrokerUri(s.brokerUri, 'brokerUri');
  const defects = s.defects ?? [];
  return {
    ...s,
    host: url.host,
    port: url.port,
    keepaliveS: s.keepaliveS ?? 120,
    cleanSession: s.cleanSession ?? true,
    subscribe: s.subscribe ?? [`devices/${s.clientId}/cmd`],
    publishTopic: s.publishTopic ?? `devices/${s.clientId}/telemetry`,
    publishPeriodMs: s.publishPeriodMs ?? 5000,
    reconnect: {
      policy: s.reconnect?.policy ?? 'esp-mqtt',
      reconnectTimeoutMs: s.reconnect?.reconnectTimeoutMs ?? 10_000,
      // aws-c-mqtt's defaults (min_reconnect_delay_ms 1 s, max_reconnect_delay_ms 120 s).
      baseMs: s.reconnect?.baseMs ?? 1000,
      capMs: s.reconnect?.capMs ?? 120_000,
    },
    timeScale: s.timeScale ?? 1,
    defects,
    inContentLen: defects.includes('small-in-buffer') ? Math.min(s.inContentLen ?? 16384, SMALL_IN_CONTENT_LEN) : s.inContentLen ?? 16384,
  };
}

function parseBrokerUri(uri: string, where: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AppSettingsError(`${where}: ${JSON.stringify(uri)} is not a URI; write it as mqtts://host:8883`);
  }
  if (url.protocol !== 'mqtts:') throw new AppSettingsError(`${where}: ${JSON.stringify(uri)}: the app connects over TLS only; use mqtts://host:port`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new AppSettingsError(`${where}: ${JSON.stringify(uri)} has no host; write it as mqtts://host:8883`);
  return { host, port: url.port === '' ? 8883 : Number(url.port) };
}

const KEYS = ['brokerUri', 'caPem', 'certPem', 'keyPem', 'clientId', 'keepaliveS', 'cleanSession', 'subscribe', 'publishTopic',
  'publishPeriodMs', 'reconnect', 'timeScale', 'defects', 'inContentLen'] as const;
const RECONNECT_KEYS = ['policy', 'reconnectTimeoutMs', 'baseMs', 'capMs'] as const;

/**
 * Settings from parsed JSON (a settings file). `where` names the file in errors. Every field is
 * checked; the PEMs are checked for a PEM block only (a bad one is the firmware's failure to show).
 */
export function parseAppSettings(json: unknown, where: string): AppSettings {
  return parse(json, where, true) as AppSettings;
}

/**
 * A settings file that only overrides: every key optional (the broker URI, the PEMs and the client
 * id usually come from the endpoint's materials), each one checked as parseAppSettings does.
 */
export function parseAppSettingsOverrides(json: unknown, where: string): Partial<AppSettings> {
  return parse(json, where, false);
}

function parse(json: unknown, where: string, complete: boolean): Partial<AppSettings> {
  const fail = (key: string, how: string): never => { throw new AppSettingsError(`${where}: ${key}: ${how}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('(top level)', 'must be a JSON object of app settings');
  const o = json as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(KEYS as readonly string[]).includes(key)) fail(key, `unknown setting; known: ${KEYS.join(', ')}`);
  }
  const str = (key: string, optional = false): string | undefined => {
    const v = o[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v === '') return fail(key, 'must be a non-empty string');
    return v as string;
  };
  const pem = (key: string, nullable: boolean): string | null => {
    const v = o[key];
    if (v === null && nullable) return null;
    if (v === undefined && nullable) return null;
    if (typeof v !== 'string' || !/-----BEGIN [A-Z ]+-----/.test(v)) return fail(key, nullable ? 'must be PEM text or null' : 'must be PEM text (-----BEGIN ...)');
    return v as string;
  };
  const int = (obj: Record<string, unknown>, key: string, label: string, min: number, max: number): number | undefined => {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(label, `must be an integer from ${min} to ${max}`);
    return v as number;
  };
  const settings: Partial<AppSettings> = {};
  const given = (key: string) => complete || o[key] !== undefined;
  if (given('brokerUri')) {
    settings.brokerUri = str('brokerUri')!;
    parseBrokerUri(settings.brokerUri, `${where}: brokerUri`);
  }
  if (given('caPem')) settings.caPem = pem('caPem', false)!;
  if (given('certPem')) settings.certPem = pem('certPem', true);
  if (given('keyPem')) settings.keyPem = pem('keyPem', true);
  if (given('clientId')) settings.clientId = str('clientId')!;
  if ((given('certPem') || given('keyPem')) && (settings.certPem == null) !== (settings.keyPem == null)) {
    fail('certPem', 'certPem and keyPem go together (mutual TLS needs both)');
  }
  const keepaliveS = int(o, 'keepaliveS', 'keepaliveS', 0, 65535);
  if (keepaliveS !== undefined) settings.keepaliveS = keepaliveS;
  if (o.cleanSession !== undefined) {
    if (typeof o.cleanSession !== 'boolean') fail('cleanSession', 'must be true or false');
    settings.cleanSession = o.cleanSession as boolean;
  }
  if (o.subscribe !== undefined) {
    if (!Array.isArray(o.subscribe) || o.subscribe.some((t) => typeof t !== 'string' || t === '')) fail('subscribe', 'must be a list of topic filters');
    settings.subscribe = o.subscribe as string[];
  }
  const publishTopic = str('publishTopic', true);
  if (publishTopic !== undefined) settings.publishTopic = publishTopic;
  const period = int(o, 'publishPeriodMs', 'publishPeriodMs', 1, 86_400_000);
  if (period !== undefined) settings.publishPeriodMs = period;
  if (o.reconnect !== undefined) {
    const r = o.reconnect as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) fail('reconnect', 'must be an object like {"policy": "backoff-jitter"}');
    for (const key of Object.keys(r)) {
      if (!(RECONNECT_KEYS as readonly string[]).includes(key)) fail(`reconnect.${key}`, `unknown setting; known: ${RECONNECT_KEYS.join(', ')}`);
    }
    if (r.policy !== 'esp-mqtt' && r.policy !== 'backoff-jitter') fail('reconnect.policy', "must be 'esp-mqtt' or 'backoff-jitter'");
    const policy: ReconnectPolicy = { policy: r.policy as ReconnectPolicy['policy'] };
    const t = int(r, 'reconnectTimeoutMs', 'reconnect.reconnectTimeoutMs', 1, 86_400_000);
    const base = int(r, 'baseMs', 'reconnect.baseMs', 1, 86_400_000);
    const cap = int(r, 'capMs', 'reconnect.capMs', 1, 86_400_000);
    if (t !== undefined) policy.reconnectTimeoutMs = t;
    if (base !== undefined) policy.baseMs = base;
    if (cap !== undefined) policy.capMs = cap;
    if ((base ?? 1000) > (cap ?? 120_000)) fail('reconnect.capMs', 'must not be below reconnect.baseMs');
    settings.reconnect = policy;
  }
  if (o.timeScale !== undefined) {
    const v = o.timeScale;
    if (typeof v !== 'number' || !(v > 0) || v > 100) fail('timeScale', 'must be a number above 0 and at most 100 (1 = real time, 0.05 for CI)');
    settings.timeScale = v as number;
  }
  if (o.defects !== undefined) {
    if (!Array.isArray(o.defects)) fail('defects', `must be a list of: ${APP_DEFECTS.join(', ')}`);
    for (const d of o.defects as unknown[]) {
      if (!(APP_DEFECTS as readonly unknown[]).includes(d)) fail('defects', `${JSON.stringify(d)} is not a defect; known: ${APP_DEFECTS.join(', ')}`);
    }
    settings.defects = o.defects as AppDefect[];
  }
  // Kconfig's range for CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN.
  const inLen = int(o, 'inContentLen', 'inContentLen', 512, 16384);
  if (inLen !== undefined) settings.inContentLen = inLen;
  return settings;
}
