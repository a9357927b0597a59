/**
 * Device Advisor's MQTT connection tests: the CONNECT itself, and how the device spaces its
 * attempts when the broker keeps failing it (docs/backoff.md) or drops a good session.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  conclude, decide, firmwareScenario, judgeBackoff, judgeReconnectWait,
  packetsOf, reconnectIntervals, sessions, waitFor, type Attempt, type FirmwareContext,
} from '../../harness/index.ts';

/** Every CONNECT of the scenario goes unanswered / every session is dropped: the scenario ends first. */
const ALWAYS = 1_000_000;

firmwareScenario('MQTT Connect', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await decide(ctx, 'an MQTT CONNECT', (as, final) => {
    for (const a of as) {
      const c = packetsOf(a, 'in', 'connect')[0];
      if (c) return { verdict: 'pass', reason: `CONNECT as ${c.clientId ?? a.mqtt?.clientId ?? '?'} (keepalive ${c.keepalive ?? '?'} s, clean session ${c.clean ? 1 : 0}) ${Math.round(c.atMs)} ms after TCP accept` };
    }
    if (!final) return undefined;
    const tls = as.map((a) => a.tls?.outcome === 'ok' ? 'TLS ok' : `TLS ${a.tls?.outcome ?? 'none'}${a.tls?.reason ? ` (${a.tls.reason})` : ''}`);
    return { verdict: 'fail', reason: `no CONNECT within ${ctx.bound} ms (${as.length} attempts: ${[...new Set(tls)].join(', ')})` };
  });
});

/** Watches `attemptsWanted` attempts, then judges the waits between them. */
async function backoff(ctx: FirmwareContext, what: string): Promise<void> {
  const wanted = Math.max(ctx.attemptsWanted, 2);
  // How late this host ran anything while the waits were timed: their timestamps are as late.
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  let seen: Attempt[] | undefined;
  try {
    seen = await waitFor(ctx, `${wanted} attempts (${what})`, (as) => (as.length >= wanted && as[wanted - 2]!.closed ? as.slice(0, wanted) : undefined));
  } finally {
    lag.disable();
  }
  const attempts = seen ?? ctx.attempts().slice(0, wanted);
  // The judgement's reason carries the intervals and their class to the report, whatever the verdict.
  const j = judgeBackoff(reconnectIntervals(attempts), lag.max / 1e6);
  if (!seen) j.reason += `; only ${attempts.length} of ${wanted} attempts within the bound of ${ctx.bound} ms`;
  conclude(ctx, j);
}

firmwareScenario('MQTT Connect Backoff (no CONNACK)', {
  endpoint: { tls: { server: 'server-valid' }, mqtt: { withholdConnack: ALWAYS } }, attempts: 8, boundMs: 60_000,
}, (ctx) => backoff(ctx, 'CONNACK withheld'));

firmwareScenario('MQTT Reconnect Backoff (server disconnect)', {
  endpoint: { tls: { server: 'server-valid' }, mqtt: { disconnectAfterConnack: ALWAYS } }, attempts: 8, boundMs: 60_000,
}, (ctx) => backoff(ctx, 'each session closed right after CONNACK'));

firmwareScenario('MQTT Reconnect After Success', {
  endpoint: { tls: { server: 'server-valid' }, mqtt: { disconnectAfterConnack: 1 } },
}, async (ctx) => {
  const pair = await ctx.until('a session, its close, and the next attempt', (as) => {
    const s = sessions(as).find((a) => a.closed);
    const next = s && as.find((a: Attempt) => a.id > s.id);
    return s && next ? [s, next] as const : undefined;
  });
  const [wait] = reconnectIntervals([...pair]);
  conclude(ctx, judgeReconnectWait(wait!));
});
