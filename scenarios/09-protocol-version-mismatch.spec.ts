import { expect, scenario } from '../harness/index.ts';

describe('09 protocol version mismatch', () => {
  scenario('a TLS 1.2-only device fails against a TLS 1.3-only broker', async (ctx) => {
    if (ctx.hello.mbedtls.tls13) ctx.skip('the firmware speaks TLS 1.3 (CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y), so there is no mismatch to test');
    const result = await ctx.connect('tls1.3-only');
    expect(result).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
    expect(ctx).to.have.printed(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x[0-9A-F]{4}$/);
    expect(ctx).to.have.printed(/transport_base: Failed to open a new connection$/);
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('tls1.3-only');
    expect(attempt.tls).to.include({ outcome: 'failed', reason: 'unsupported protocol' });
  });
});
