import { expect, scenario } from '../harness/index.ts';

describe('12 CA rotation', () => {
  scenario('with only the old root, refuses a broker moved to the next root (flags 0x08)', async (ctx) => {
    const result = await ctx.connect('next-root');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('NOT_TRUSTED');
    expect(ctx).to.have.printed(/Failed to verify peer certificate!$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('next-root')).mqtt).to.equal(null);
  });

  scenario('with the transition bundle (both roots), connects to brokers under either root', async (ctx) => {
    for (const listener of ['good', 'next-root']) {
      const result = await ctx.connect(listener, { trust: 'transition' });
      expect(result, listener).to.be.connected();
      expect(ctx, listener).not.to.have.printed(/esp-tls.*(returned -0x|Failed)/);
      await ctx.disconnect(result);
      expect((await ctx.attempt(listener)).mqtt, listener).to.include({ connack: 0 });
    }
  });
});
