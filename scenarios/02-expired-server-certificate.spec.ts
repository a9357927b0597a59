import { datesUnchecked, expect, scenario } from '../harness/index.ts';

describe('02 expired server certificate', () => {
  scenario('refuses a broker whose certificate is past its notAfter (flags 0x01)', async (ctx) => {
    const result = await ctx.connect('expired');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', datesUnchecked(ctx)).andFlags('EXPIRED');
    expect(result.error!.esp_err_name).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
    expect(ctx).to.have.printed(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700$/);
    expect(ctx).to.have.printed(/esp-tls-mbedtls: Failed to verify peer certificate!$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('expired')).mqtt, 'the broker saw no MQTT session').to.equal(null);
  });
});
