/**
 * Listener profiles: one broker port each, described as data. A profile names the certificate it
 * serves, the TLS versions and suites it allows, and whether it demands a client certificate;
 * the broker has no code path per profile.
 */
import type { SecureVersion } from 'node:tls';

export type ListenerKind =
  /** TLS in front of the MQTT broker. */
  | 'tls'
  /** MQTT over plain TCP. */
  | 'plain'
  /** Accepts TCP and never says a word: for handshake timeouts. */
  | 'stall';

export interface ListenerProfile {
  name: string;
  purpose: string;
  kind: ListenerKind;
  /** Server certificate (a lab PKI name) presented with its chain. */
  server?: string;
  /** The bundle a device must trust to accept this listener's certificate (when it should). */
  trust?: string;
  /** 'required': a client certificate chaining to the current root, CN = MQTT client id. */
  clientAuth?: 'required' | 'none';
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** OpenSSL cipher list (TLS 1.2 names; TLS 1.3 suites are OpenSSL's defaults). */
  ciphers?: string;
}

const tls = (name: string, purpose: string, server: string, extra: Partial<ListenerProfile> = {}): ListenerProfile => ({
  name, purpose, kind: 'tls', server, trust: 'bundle-current', clientAuth: 'required', ...extra,
});

export const PROFILES: readonly ListenerProfile[] = [
  tls('good', 'valid chain, client certificate required: every device connects', 'server-valid'),
  tls('expired', 'server certificate past its notAfter', 'server-expired'),
  tls('not-yet-valid', 'server certificate before its notBefore', 'server-not-yet-valid'),
  tls('wrong-host', 'server certificate for another host name', 'server-wrong-host'),
  tls('self-signed', 'self-signed server certificate', 'server-self-signed'),
  tls('rogue', 'server certificate from an untrusted root', 'server-rogue'),
  tls('lookalike', 'server certificate from a root with the trusted name but another key', 'server-lookalike'),
  tls('wrong-eku', 'server certificate whose extended key usage is clientAuth only', 'server-wrong-eku'),
  tls('next-root', 'server certificate under the next root (CA rotation)', 'server-next', { trust: 'bundle-next' }),
  tls('rsa', 'RSA-2048 chain, for ECDHE-RSA suites', 'server-rsa', { trust: 'bundle-rsa' }),
  tls('tls1.3-only', 'valid chain, TLS 1.3 only', 'server-valid', { minVersion: 'TLSv1.3' }),
  tls('tls1.2-only', 'valid chain, TLS 1.2 only', 'server-valid', { maxVersion: 'TLSv1.2' }),
  tls('restricted-cipher', 'TLS 1.2 with ChaCha20-Poly1305 only, a suite ESP-IDF leaves out by default',
    'server-valid', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }),
  tls('no-client-auth', 'valid chain, no client certificate asked for', 'server-valid', { clientAuth: 'none' }),
  { name: 'stall', purpose: 'accepts TCP and never answers', kind: 'stall' },
  { name: 'plain', purpose: 'MQTT without TLS', kind: 'plain' },
];

export function profileNames(): string[] {
  return PROFILES.map((p) => p.name);
}
