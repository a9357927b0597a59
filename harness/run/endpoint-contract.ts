/**
 * The endpoint as the firmware runner uses it (issue 8's contract, part A). Until the lab's own
 * endpoint lands these are the contract's declarations; then this file only re-exports the lab's.
 */
import type { EventEmitter } from 'node:events';
import type { SecureVersion } from 'node:tls';
import type { Attempt, Lab } from '../lab/index.ts';

export interface EndpointTls {
  server: string;
  minVersion?: SecureVersion; maxVersion?: SecureVersion;
  ciphers?: string;
  clientAuth?: 'required' | 'none';
}
export interface EndpointMqtt {
  withholdConnack?: number;
  refuseConnack?: number;
  disconnectAfterConnack?: number;
  withhold?: Array<'puback' | 'suback' | 'pingresp'>;
  sessionExpired?: boolean;
}
export interface EndpointBehaviour { tls: EndpointTls; mqtt?: EndpointMqtt }

export interface EndpointMaterials {
  uri: string; host: string; port: number; hostNames: string[];
  caBundlePath: string; caBundlePem: string;
  certPath: string; keyPath: string;
  certPem: string; keyPem: string;
}

export interface Endpoint {
  host: string; port: number;
  url: string;
  serve(behaviour: EndpointBehaviour): void;
  refuse(): void;
  dropAll(reason: string): void;
  publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void>;
  subscriptions(clientId: string): string[];
  readonly events: EventEmitter;
  materials(deviceId: string): Promise<EndpointMaterials>;
}

/** The lab's endpoint, null when the lab was started without one. */
export function endpointOf(lab: Lab): Endpoint | null {
  return (lab as Lab & { endpoint?: Endpoint | null }).endpoint ?? null;
}

export type { Attempt };
