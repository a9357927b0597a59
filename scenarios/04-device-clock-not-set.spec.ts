import { datesUnchecked, expect, scenario } from '../harness/index.ts';

describe('04 device clock not set', () => {
  scenario('with its clock at 1970, finds every certificate in the future and refuses', async (ctx) => {
    expect((await ctx.device.command('time.clear')).synced).to.equal(false);
    const result = await ctx.connect('good');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', datesUnchecked(ctx)).andFlagsIncluding('FUTURE');
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x2700$/);
    expect(ctx).to.have.printed(/Failed to verify peer certificate!$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('good')).mqtt).to.equal(null);
  });
});
