import { expect, scenario } from '../harness/index.ts';

describe('08 cipher mismatch', () => {
  scenario('fails the handshake with a broker that offers only suites the device lacks', async (ctx) => {
    const chacha = ctx.hello.mbedtls.ciphersuites.some((s) => s.includes('CHACHA20-POLY1305'));
    const result = await ctx.connect('restricted-cipher');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE',
      chacha ? 'the firmware offers ChaCha20-Poly1305 (CONFIG_MBEDTLS_CHACHAPOLY_C=y)' : null);
    expect(result.error!.esp_err_name).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x7780$/);
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('restricted-cipher');
    expect(attempt.tls).to.include({ outcome: 'failed', reason: 'no shared cipher' });
  });
});
