/** `hilt broker`: the lab on its own, for manual work with real boards. */
import type { Command } from 'commander';
import { isIP } from 'node:net';
import { UsageError, quoted } from '../errors.ts';
import { startLab, type Attempt, type Lab, type Listener } from '../lab/index.ts';
import { ensurePki, warningsOf, type Pki } from '../pki/index.ts';
import { within } from '../time.ts';
import { shown } from './args.ts';
import { untilSignal } from './signals.ts';

interface BrokerOptions {
  dir: string;
  profiles?: string;
  host: string;
  portBase: string;
  json: boolean;
}

const WILDCARD = new Set(['0.0.0.0', '::']);
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function describeListener(l: Listener): string {
  const auth = l.profile.kind !== 'tls' ? '' : l.profile.clientAuth === 'required' ? ' mTLS' : ' TLS';
  const trust = (l.trust ? `trust ${shown(l.trust)}` : '').padEnd(34);
  return `  ${l.profile.name.padEnd(18)} ${l.url.padEnd(28)}${auth.padEnd(6)}${trust}${l.profile.purpose}`;
}

/** One line per attempt, for people watching the terminal: when its outcome is known, and when it closes. */
export function describeAttempt(a: Attempt): string {
  const parts = [`[${a.listener}] ${a.peer.address}:${a.peer.port}`];
  if (a.tls) {
    const tls = a.tls;
    if (tls.outcome === 'ok') parts.push(`${tls.protocol} ${tls.cipher} in ${tls.handshakeMs} ms`);
    else parts.push(`TLS ${tls.outcome}: ${tls.reason}`);
    if (tls.clientCertificate) parts.push(`client ${tls.clientCertificate.subject}`);
  }
  if (a.mqtt) parts.push(`CONNECT ${a.mqtt.clientId} keepalive ${a.mqtt.keepalive} -> CONNACK ${a.mqtt.connack ?? 'none'}`);
  if (a.closed) parts.push(`closed by ${a.closed.by} after ${Math.round(a.closed.afterMs)} ms: ${a.closed.reason}`);
  return parts.join('; ');
}

function parsePortBase(value: string): number {
  // Decimal digits only: Number() would also take "0x22b3", "1e3" and " 8883".
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535 - 16) {
    throw new UsageError(`--port-base ${quoted(value)}: not a port number: give 0 (any free port) or 1-65519`);
  }
  return port;
}

/** PKI warnings (a key whose mode had drifted, a root that no longer fits) on stderr, in either output mode. */
function warnAbout(pki: Pki): void {
  for (const warning of warningsOf(pki)) process.stderr.write(`hilt: warning: ${warning}\n`);
}

async function serve(lab: Lab, json: boolean): Promise<void> {
  const write = (line: string) => process.stdout.write(`${line}\n`);
  for (const l of lab.listeners) {
    if (json) {
      write(JSON.stringify({
        type: 'listener', profile: l.profile.name, url: l.url, host: l.host, port: l.port,
        trust: l.trust, clientAuth: l.profile.clientAuth ?? null, purpose: l.profile.purpose,
      }));
    }
  }
  if (json) {
    lab.attempts.writeJsonLines(process.stdout);
    write(JSON.stringify({ type: 'ready', listeners: lab.listeners.length }));
  } else {
    write(`lab listening (${lab.listeners.length} listeners); Ctrl-C to stop`);
    for (const l of lab.listeners) write(describeListener(l));
    // A device that stays connected shows up at once, not only when it leaves.
    const shownEarly = new WeakSet<Attempt>();
    lab.attempts.on('settled', (a: Attempt) => {
      // Failed and refused handshakes close at once: their one line comes with the close.
      if (a.closed || a.tls?.outcome === 'failed' || a.tls?.outcome === 'refused') return;
      shownEarly.add(a);
      write(describeAttempt(a));
    });
    lab.attempts.on('closed', (a: Attempt) => {
      const closed = a.closed!;
      write(shownEarly.has(a)
        ? `[${a.listener}] ${a.peer.address}:${a.peer.port}; closed by ${closed.by} after ${Math.round(closed.afterMs)} ms: ${closed.reason}`
        : describeAttempt(a));
    });
  }
}

export function registerBroker(program: Command): void {
  program
    .command('broker')
    .description('run the lab broker on its own: one listener per profile, each attempt logged')
    .option('--dir <dir>', 'certs directory (created if missing)', 'certs')
    .option('--profiles <list>', 'comma-separated listener profiles (default: all)')
    .option('--host <address>', 'address to bind; also added to the server certificates', '127.0.0.1')
    .option('--port-base <port>', 'first port; profiles take consecutive ports (0: any free port)', '8883')
    .option('--json', 'one JSON object per line: listeners, then attempts as they close', false)
    .action(async (opts: BrokerOptions) => {
      const portBase = parsePortBase(opts.portBase);
      const profiles = opts.profiles?.split(',').map((p) => p.trim()).filter(Boolean);
      if (profiles?.length === 0) throw new UsageError(`--profiles ${quoted(opts.profiles!)}: names no profile: give a comma-separated list, or leave it out for all`);
      const host = opts.host;
      // A bench address must be on the server certificates, or boards reject the name.
      const extraNames = LOOPBACK.has(host) || WILDCARD.has(host) ? [] : [host];
      if (isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host)) {
        throw new UsageError(`--host ${quoted(host)}: not an address: give an IP of this machine (192.168.1.20) or 0.0.0.0`);
      }
      // Bind first, with the certificates as they are: a host the lab cannot bind (not an
      // address of this machine, a name that does not resolve) must never reach the server
      // certificates, where it would stay until --force. Then add the host and serve the result.
      const pki = await ensurePki({ dir: opts.dir });
      warnAbout(pki);
      const lab = await startLab({ pki, profiles, host, portBase });
      if (extraNames.length > 0) {
        try {
          lab.useCertificates(await ensurePki({ dir: opts.dir, hosts: extraNames }));
        } catch (err) {
          await lab.close();
          throw err;
        }
      }
      // Listen before saying ready: whoever reads "ready" may press Ctrl-C at once.
      const stopped = untilSignal();
      await serve(lab, opts.json);
      const signal = await stopped;
      const closed = await within(5_000, lab.close());
      if (!opts.json) process.stdout.write(`${signal}: lab ${closed === 'timeout' ? 'did not close within 5 s' : 'closed'}\n`);
    });
}
