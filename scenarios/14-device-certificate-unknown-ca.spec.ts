import { expect, scenario } from '../harness/index.ts';

describe('14 device certificate from an unknown CA', () => {
  scenario('the broker cannot verify the device certificate and refuses; the device fails', async (ctx) => {
    const result = await ctx.connect('good', { identity: 'client-rogue' });
    if (ctx.hello.mbedtls.tls13 && result.tls?.version === 'TLSv1.3') {
      // In TLS 1.3 the client sends its certificate after its own Finished: the device's
      // handshake succeeds, and the broker's refusal reaches it as a close on its first read.
      ctx.note('TLS 1.3 (CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y): the device certificate goes out after the handshake completes on the device, so the refusal is ESP_ERR_ESP_TLS_TCP_CLOSED_FIN, not a failed handshake');
      expect(result).to.be.refusedWith('ESP_ERR_ESP_TLS_TCP_CLOSED_FIN');
      expect(result).to.be.refusedWith('MQTT_TCP_TRANSPORT');
      expect(ctx).to.have.printed(/mqtt_client: esp_mqtt_connect: mqtt_message_receive\(\) returned -1$/);
    } else {
      expect(result).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
      expect(ctx).to.have.printed(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x[0-9A-F]{4}$/);
      expect(ctx).to.have.printed(/mqtt_client: Error transport connect$/);
    }
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('good');
    expect(attempt.tls).to.include({ outcome: 'refused' });
    expect(attempt.tls!.reason).to.match(/UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/);
  });
});
