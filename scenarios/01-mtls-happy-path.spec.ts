import { expect, scenario } from '../harness/index.ts';

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('01 mutual TLS happy path with MQTT', () => {
  scenario('connects with mutual TLS, publishes, and receives its own subscription', async (ctx) => {
    const result = await ctx.connect('good');
    expect(result).to.be.connected();
    expect(result.tls!.version).to.equal(ctx.hello.mbedtls.tls13 ? 'TLSv1.3' : 'TLSv1.2');
    if (!ctx.hello.mbedtls.tls13) expect(result.tls!.cipher).to.match(/^TLS-ECDHE-ECDSA-WITH-AES-(128|256)-GCM-SHA(256|384)$/);
    expect(result.mqtt).to.deep.equal({ session_present: false, connack: 0 });
    expect(ctx).not.to.have.printed(/esp-tls.*(returned -0x|Failed)/);

    const topic = `devices/${ctx.deviceId}/hello`;
    expect(await ctx.device.command('mqtt.subscribe', { topic: `devices/${ctx.deviceId}/#`, qos: 1 })).to.deep.equal({ granted: 1 });
    const since = ctx.device.eventMark();
    expect((await ctx.device.command('mqtt.publish', { topic, qos: 1, payload: base64('hello from hilt') })).acked).to.equal(true);
    const message = await ctx.device.waitEvent('mqtt.message', { since, timeoutMs: 5_000 });
    expect(message.body).to.deep.equal({ topic, qos: 1, payload: base64('hello from hilt') });
    await ctx.disconnect(result);

    const attempt = await ctx.attempt('good');
    expect(attempt.tls).to.include({ outcome: 'ok', protocol: result.tls!.version });
    expect(attempt.tls!.clientCertificate!.subject).to.equal(`CN=${ctx.deviceId}, O=hilt lab`);
    expect(attempt.mqtt).to.include({ clientId: ctx.deviceId, connack: 0 });
  });
});
