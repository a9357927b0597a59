import { datesUnchecked, expect, scenario } from '../harness/index.ts';

describe('03 server certificate not yet valid', () => {
  scenario('refuses a broker whose certificate starts in the future (flags 0x200)', async (ctx) => {
    const result = await ctx.connect('not-yet-valid');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', datesUnchecked(ctx)).andFlags('FUTURE');
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x2700$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('not-yet-valid')).mqtt).to.equal(null);
  });
});
