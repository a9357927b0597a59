/**
 * Device Advisor's session tests (keepalive, persistent and expired sessions) and hilt's broker
 * restart: what the device does when the broker goes quiet, keeps its session, forgets it, or
 * goes away and comes back.
 */
import {
  acknowledgedSubscription, conclude, decide, firmwareScenario, judgeExpiredSession, judgeKeepalive, judgeResumedSession, keepaliveDeadline,
  packetMs, packetsOf, sessions, startMs, waitFor, type Attempt, type FirmwareContext,
} from '../../harness/index.ts';

const byId = (as: Attempt[], id: number) => as.find((a) => a.id === id);

/** The first session in which the broker acknowledged a SUBSCRIBE, and that topic. */
function subscribedSession(ctx: FirmwareContext): Promise<{ session: Attempt; topic: string }> {
  return ctx.until('an MQTT session with an acknowledged SUBSCRIBE', (as) => {
    const found = acknowledgedSubscription(sessions(as));
    return found && { session: as.find((a) => a.id === found.attempt.id)!, topic: found.topic };
  });
}

/** Drops the device and waits until its connection is gone. */
async function drop(ctx: FirmwareContext, session: Attempt, reason: string): Promise<void> {
  ctx.endpoint.dropAll(reason);
  await ctx.until('the dropped connection to close', (as) => (byId(as, session.id)?.closed ? true : undefined));
}

/** The next session after `after`. */
const nextSession = (as: Attempt[], after: Attempt) => sessions(as).find((a) => a.id > after.id);

firmwareScenario('MQTT Keepalive (no PINGRESP)', {
  // Without PINGRESP and PUBACK a device that only publishes never hears that the broker is gone.
  endpoint: { tls: { server: 'server-valid' }, mqtt: { withhold: ['pingresp', 'puback'] } }, boundMs: 400_000,
}, async (ctx) => {
  const began = Date.now();
  const session = await ctx.until('an MQTT session', (as) => sessions(as)[0]);
  const deadline = keepaliveDeadline(session);
  if (deadline === null) {
    conclude(ctx, judgeKeepalive(session, Date.now())!);
    return;
  }
  // The latest the rule allows (no PINGREQ at all), within the scenario's bound.
  const waitMs = Math.max(0, Math.min(deadline + 50 - Date.now(), ctx.bound - (Date.now() - began)));
  await decide(ctx, 'the device to disconnect without PINGRESP', (as, final) => {
    const a = byId(as, session.id)!;
    const j = judgeKeepalive(a, Date.now());
    if (j || !final) return j;
    const ping = packetsOf(a, 'in', 'pingreq')[0];
    const did = ping ? `${Math.round(Date.now() - packetMs(a, ping))} ms after its unanswered PINGREQ` : `${Math.round(Date.now() - startMs(a))} ms into its session without sending a PINGREQ`;
    return { verdict: 'fail', reason: `still connected ${did} when the scenario's bound (${ctx.bound} ms) ended, before 1.5 × its keepalive (${a.mqtt?.keepalive ?? '?'} s) had passed` };
  }, waitMs);
});

firmwareScenario('MQTT Persistent Session', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  const { session, topic } = await subscribedSession(ctx);
  const connect = packetsOf(session, 'in', 'connect')[0];
  if (connect?.clean ?? session.mqtt?.clean) ctx.skip('the device connects with clean session 1: it keeps no session to resume');
  await drop(ctx, session, 'persistent session: the device is dropped');
  // While the device is away, the broker stores a QoS 1 message for its kept subscription.
  await ctx.endpoint.publish(topic, Buffer.from('hilt: stored while the device was away'), 1);
  const resumed = await ctx.until('the device to come back', (as) => nextSession(as, session));
  await decide(ctx, 'the stored message acknowledged on the resumed session', (as, final) => judgeResumedSession(byId(as, resumed.id)!, topic, final));
});

firmwareScenario('MQTT Expired Session', { endpoint: { tls: { server: 'server-valid' }, mqtt: { sessionExpired: true } } }, async (ctx) => {
  const { session } = await subscribedSession(ctx);
  await drop(ctx, session, 'expired session: the device is dropped and its session forgotten');
  const again = await ctx.until('the device to come back', (as) => nextSession(as, session));
  await decide(ctx, 'a SUBSCRIBE after session-present 0', (as, final) => judgeExpiredSession(byId(as, again.id)!, final));
});

firmwareScenario('Broker Restart (hilt)', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  const session = await ctx.until('an MQTT session', (as) => sessions(as)[0]);
  // The broker goes down: every socket closed, TLS refused, until the device has tried again.
  ctx.endpoint.dropAll('broker restart');
  ctx.endpoint.refuse();
  const downAt = Date.now();
  const refused = await waitFor(ctx, 'an attempt while the broker is down', (as) => as.find((a) => a.id > session.id && a.closed));
  if (!refused) {
    conclude(ctx, { verdict: 'fail', reason: `never tried again within ${ctx.bound} ms after the broker went down` });
    return;
  }
  ctx.endpoint.serve({ tls: { server: 'server-valid' } });
  const backAt = Date.now();
  await decide(ctx, 'an MQTT session after the restart', (as, final) => {
    const back = sessions(as).find((a) => a.id > refused.id);
    const since = as.filter((a) => a.id > session.id && (!back || a.id < back.id)).length;
    if (back) return { verdict: 'pass', reason: `came back ${Math.round(startMs(back) - downAt)} ms after the broker went down, after ${since} refused attempt${since === 1 ? '' : 's'} (the broker was back after ${backAt - downAt} ms)` };
    return final ? { verdict: 'fail', reason: `no session within ${ctx.bound} ms of the broker coming back (${since} attempts since it went down)` } : undefined;
  });
});
