/** Real clients for lab tests: mqtt.js and `openssl s_client`, each reduced to what it saw. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { ConnectionOptions } from 'node:tls';
import type { Pki } from '../../harness/pki/index.ts';
import { run } from '../helpers.ts';

export type MqttOptions = IClientOptions & ConnectionOptions;

export interface MqttOutcome {
  client: MqttClient | null;
  /** Node/TLS error code or MQTT CONNACK code ("CONNACK 5"). */
  error: string | null;
}

/** A device-like mqtt.js client: trusts `ca`, presents `device` (a PKI name) unless null. */
export function deviceOptions(pki: Pki, ca: string, device: string | null, extra: MqttOptions = {}): MqttOptions {
  return {
    ca: pki.bundle(ca),
    ...(device ? { cert: pki.material(device).cert, key: pki.material(device).key } : {}),
    clientId: 'hilt-device-1',
    servername: 'localhost',
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
    ...extra,
  };
}

export async function mqttConnect(url: string, options: MqttOptions): Promise<MqttOutcome> {
  try {
    // The third argument stops mqtt.js from retrying for ever when the server closes the socket.
    const client = await mqtt.connectAsync(url, options, false);
    return { client, error: null };
  } catch (err) {
    const e = err as { code?: string | number; message: string };
    if (typeof e.code === 'number') return { client: null, error: `CONNACK ${e.code}` };
    // A TLS alert from the server surfaces as EPROTO or ERR_SSL_*; OpenSSL's reason says which.
    const openssl = /SSL routines:[^:]*:([^:]+):/.exec(e.message)?.[1];
    return { client: null, error: openssl ?? e.code ?? e.message };
  }
}

export interface SClientOutcome {
  established: boolean;
  protocol: string | null;
  cipher: string | null;
  /** X509_V_ERR number when the client refused the server's certificate. */
  verifyError: number | null;
  /** Error text OpenSSL printed (e.g. "alert handshake failure"), for failed handshakes. */
  error: string | null;
}

/** One handshake with openssl s_client, stdin closed so it leaves right after. */
export async function sClient(port: number, args: string[], host = '127.0.0.1'): Promise<SClientOutcome> {
  const { stdout, stderr } = await run('openssl', [
    's_client', '-connect', `${host}:${port}`, '-servername', 'localhost', '-verify_return_error', '-brief', ...args,
  ], { input: '', timeoutMs: 10_000 });
  const out = stdout + stderr;
  const verify = /verify error:num=(\d+)/.exec(out);
  return {
    established: /CONNECTION ESTABLISHED/.test(out),
    protocol: /Protocol version: (\S+)/.exec(out)?.[1] ?? null,
    cipher: /Ciphersuite: (\S+)/.exec(out)?.[1] ?? null,
    verifyError: verify ? Number(verify[1]) : null,
    error: /SSL routines:[^:]*:([^:]+):/.exec(out)?.[1] ?? null,
  };
}
