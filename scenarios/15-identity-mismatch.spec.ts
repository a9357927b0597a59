import { expect, scenario } from '../harness/index.ts';

describe('15 identity mismatch', () => {
  scenario('a client id other than its certificate CN is refused at MQTT level (CONNACK 5)', async (ctx) => {
    const result = await ctx.connect('good', { clientId: `not-${ctx.deviceId}` });
    expect(result).to.be.refusedWith('MQTT_CONNECTION_REFUSED');
    expect(result.error!.connack).to.equal(5);
    expect(ctx).to.have.printed(/W \(\d+\) mqtt_client: Connection refused, not authorized$/);
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('good');
    expect(attempt.tls).to.include({ outcome: 'ok' });
    expect(attempt.mqtt).to.include({ clientId: `not-${ctx.deviceId}`, connack: 5 });
  });
});
