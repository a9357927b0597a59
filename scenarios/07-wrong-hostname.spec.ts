import { expect, scenario } from '../harness/index.ts';

describe('07 wrong host name', () => {
  scenario('refuses a valid chain issued for another host (flags 0x04)', async (ctx) => {
    const result = await ctx.connect('wrong-host');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('CN_MISMATCH');
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x2700$/);
    await ctx.checkHeapReturned(result);
    expect((await ctx.attempt('wrong-host')).mqtt).to.equal(null);
  });

  scenario('with skip_cn=1 connects anyway, and the report says the check was skipped', async (ctx) => {
    const result = await ctx.connect('wrong-host', { skipCn: true });
    expect(result).to.be.connected();
    expect(ctx).not.to.have.printed(/esp-tls.*(returned -0x|Failed)/);
    ctx.note('host name check skipped (skip_cn=1): the device accepted a certificate issued for another host');
    await ctx.disconnect(result);
    expect((await ctx.attempt('wrong-host')).mqtt).to.include({ connack: 0 });
  });
});
