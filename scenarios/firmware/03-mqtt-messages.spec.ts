/**
 * Device Advisor's MQTT message tests: PUBLISH and SUBSCRIBE, their retries when the broker does
 * not answer, and QoS 1 delivery to the device, small and large.
 */
import {
  acknowledgedSubscription, decide, firmwareScenario, judgeDelivery, judgePublishRetry, judgeSubscribe, judgeSubscribeRetry,
  packetsOf, type FirmwareContext,
} from '../../harness/index.ts';

/** Near the default 16 KB Mbed TLS IN buffer, in one TLS record with its MQTT header. */
const LARGE_PAYLOAD = 15_000;

/** Waits until the broker acknowledged a SUBSCRIBE of the device (it is registered): its topic. */
function subscribedTopic(ctx: FirmwareContext): Promise<string> {
  return ctx.until('a SUBSCRIBE the endpoint acknowledged', (as) => acknowledgedSubscription(as)?.topic);
}

/**
 * Publishes `size` bytes QoS 1 to a topic the device subscribed to and judges its PUBACK. With
 * `staysUp`, a PUBACK passes only once the device also shows it is still there afterwards (any
 * packet on the same connection); a close after it fails, and a device quiet until the bound is
 * taken as still connected.
 */
async function delivery(ctx: FirmwareContext, size: number, staysUp = false): Promise<void> {
  const topic = await subscribedTopic(ctx);
  const payload = Buffer.alloc(size, 'h');
  payload.write(`hilt ${size} B`);
  await ctx.endpoint.publish(topic, payload, 1);
  await decide(ctx, `a PUBACK for the ${size} B PUBLISH on ${topic}${staysUp ? ', and the device still connected after it' : ''}`, (as, final) => {
    const j = judgeDelivery(as, topic, final);
    if (!j || j.verdict !== 'pass' || !staysUp) return j;
    const a = as.find((x) => packetsOf(x, 'in', 'puback').length > 0 && packetsOf(x, 'out', 'publish').some((p) => p.topic === topic))!;
    const ack = packetsOf(a, 'in', 'puback').at(-1)!;
    const after = packetsOf(a, 'in').find((p) => p.atMs > ack.atMs);
    if (a.closed) return { verdict: 'fail', reason: `${j.reason}, then ${a.closed.by === 'device' ? 'dropped the connection' : 'lost the connection'} ${Math.round(a.closed.afterMs - ack.atMs)} ms later` };
    if (after) return { verdict: 'pass', reason: `${j.reason}; still connected (${after.type.toUpperCase()} ${Math.round(after.atMs - ack.atMs)} ms later)` };
    return final ? { verdict: 'pass', reason: `${j.reason}; still connected when the bound ended` } : undefined;
  });
}

firmwareScenario('MQTT Publish', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await decide(ctx, 'a PUBLISH', (as, final) => {
    for (const a of as) {
      const p = packetsOf(a, 'in', 'publish')[0];
      if (p) return { verdict: 'pass', reason: `PUBLISH on ${p.topic ?? '?'} (QoS ${p.qos ?? 0}, ${p.bytes} B, id ${p.id ?? '-'})` };
    }
    return final ? { verdict: 'fail', reason: `no PUBLISH within ${ctx.bound} ms` } : undefined;
  });
});

firmwareScenario('MQTT Publish Retry (no PUBACK)', { endpoint: { tls: { server: 'server-valid' }, mqtt: { withhold: ['puback'] } } }, async (ctx) => {
  await decide(ctx, 'the unacknowledged PUBLISH resent', (as, final) => judgePublishRetry(as, final));
});

firmwareScenario('MQTT Subscribe', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await decide(ctx, 'a SUBSCRIBE', (as, final) => judgeSubscribe(as, final));
});

firmwareScenario('MQTT Subscribe Retry (no SUBACK)', { endpoint: { tls: { server: 'server-valid' }, mqtt: { withhold: ['suback'] } } }, async (ctx) => {
  await decide(ctx, 'the unanswered SUBSCRIBE resent', (as, final) => judgeSubscribeRetry(as, final));
});

firmwareScenario('MQTT QoS 1 Delivery (PUBACK)', { endpoint: { tls: { server: 'server-valid' } } }, (ctx) => delivery(ctx, 64));

firmwareScenario('MQTT Large Payload', { endpoint: { tls: { server: 'server-valid' } } }, (ctx) => delivery(ctx, LARGE_PAYLOAD, true));
