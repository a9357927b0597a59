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

async function delivery(ctx: FirmwareContext, size: number): Promise<void> {
  const topic = await subscribedTopic(ctx);
  const payload = Buffer.alloc(size, 'h');
  payload.write(`hilt ${size} B`);
  await ctx.endpoint.publish(topic, payload, 1);
  await decide(ctx, `a PUBACK for the ${size} B PUBLISH on ${topic}`, (as, final) => judgeDelivery(as, topic, final));
}

describe('MQTT messages', () => {
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

  firmwareScenario('MQTT Large Payload', { endpoint: { tls: { server: 'server-valid' } } }, (ctx) => delivery(ctx, LARGE_PAYLOAD));
});
