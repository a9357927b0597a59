/**
 * The endpoint's records as the verdicts read them (contract A of issue 8). Until the endpoint's
 * own types are in harness/lab, they are declared here; the verdicts need only these fields.
 */
import type { Attempt as LabAttempt } from '../lab/index.ts';

export interface ClientHelloRecord {
  ok: boolean;
  error: string | null;
  legacyVersion: string | null;
  supportedVersions: string[];
  cipherSuites: Array<{ id: number; name: string }>;
  sni: string | null;
  groups: string[];
  signatureAlgorithms: string[];
  alpn: string[];
  maxFragmentLength: number | null;
  sessionTicket: boolean;
  pskOffered: boolean;
  bytes: number;
}

export interface PacketRecord {
  dir: 'in' | 'out';
  atMs: number;
  type: string;
  id?: number; qos?: number; dup?: boolean; retain?: boolean; topic?: string; bytes: number;
  clientId?: string; keepalive?: number; clean?: boolean;
  returnCode?: number; sessionPresent?: boolean;
  withheld?: boolean;
  topics?: string[];
}

export type Attempt = LabAttempt & {
  clientHello?: ClientHelloRecord | null;
  alert?: { from: 'device'; level: 'warning' | 'fatal'; number: number; name: string } | null;
  closedHow?: 'fin' | 'rst' | 'alert' | null;
  packets?: PacketRecord[];
};
