import { expect, scenario } from '../harness/index.ts';

describe('06 look-alike root', () => {
  scenario('refuses a chain to a root with the trusted name but another key (flags 0x08)', async (ctx) => {
    const result = await ctx.connect('lookalike');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('NOT_TRUSTED');
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x2700$/);
    expect(ctx).to.have.printed(/Failed to verify peer certificate!$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('lookalike')).mqtt).to.equal(null);
  });
});
