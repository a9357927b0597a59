/**
 * How long the app waits before it reconnects, per policy and defect. Pure, so the rule can be
 * read and tested apart from sockets.
 *
 * - 'esp-mqtt': esp-mqtt's own behaviour: a fixed network.reconnect_timeout_ms after every
 *   ended connection (esp_mqtt_abort_connection sets wait_timeout_ms = reconnect_timeout_ms,
 *   MQTT_RECON_DEFAULT_MS = 10 s). No growth, no jitter.
 * - 'backoff-jitter': what AWS recommends ("Exponential Backoff and Jitter", full jitter): a
 *   uniformly random wait between baseMs and min(capMs, baseMs * 2^n), n = failures in a row.
 *   Like aws-c-mqtt (min_connected_time_to_reset_reconnect_delay_ms, 30 s), n goes back to 0 only
 *   after a connection that stayed up STABLE_MS; a broker that drops the device right after
 *   CONNACK keeps it growing.
 *
 * The backoff defects replace the rule: 'constant-backoff' waits baseMs every time,
 * 'linear-backoff' baseMs * n, 'no-jitter' exactly baseMs * 2^(n-1); all capped at capMs.
 */
import type { AppDefect, ReconnectPolicy } from './settings.ts';

/** aws-c-mqtt's default min_connected_time_to_reset_reconnect_delay_ms. */
export const STABLE_MS = 30_000;

/** The wait before reconnect number `n` (1 = the first after a failure), unscaled. */
export function reconnectDelayMs(policy: Required<ReconnectPolicy>, defects: readonly AppDefect[], n: number, random: () => number = Math.random): number {
  const { baseMs, capMs } = policy;
  const k = Math.max(1, n);
  if (defects.includes('constant-backoff')) return baseMs;
  if (defects.includes('linear-backoff')) return Math.min(capMs, baseMs * k);
  if (defects.includes('no-jitter')) return Math.min(capMs, baseMs * 2 ** (k - 1));
  if (policy.policy === 'esp-mqtt') return policy.reconnectTimeoutMs;
  const upper = Math.min(capMs, baseMs * 2 ** k);
  return baseMs + random() * (upper - baseMs);
}
