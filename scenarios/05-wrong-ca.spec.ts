import { expect, scenario } from '../harness/index.ts';

describe('05 wrong CA', () => {
  scenario('refuses a broker whose chain leads to a root it does not trust (flags 0x08)', async (ctx) => {
    const result = await ctx.connect('rogue');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('NOT_TRUSTED');
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x2700$/);
    expect(ctx).to.have.printed(/Failed to verify peer certificate!$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('rogue')).mqtt).to.equal(null);
  });
});
