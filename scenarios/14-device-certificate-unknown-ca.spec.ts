import { expect, scenario } from '../harness/index.ts';

describe('14 device certificate from an unknown CA', () => {
  scenario('the broker cannot verify the device certificate and refuses; the device fails', async (ctx) => {
    const result = await ctx.connect('good', { identity: 'client-rogue' });
    expect(result).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
    expect(ctx).to.have.printed(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x[0-9A-F]{4}$/);
    expect(ctx).to.have.printed(/mqtt_client: Error transport connect$/);
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('good');
    expect(attempt.tls).to.include({ outcome: 'refused' });
    expect(attempt.tls!.reason).to.match(/UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/);
  });
});
