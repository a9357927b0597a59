import { expect, scenario } from '../harness/index.ts';

describe('11 low heap during the handshake', () => {
  scenario('with room for the buffers but not the chain and key exchange, the handshake fails cleanly', async (ctx) => {
    const { mbedtls } = ctx.hello;
    if (mbedtls.dynamic_buffer) ctx.skip('the firmware uses dynamic buffers (CONFIG_MBEDTLS_DYNAMIC_BUFFER=y): the setup/handshake split does not apply');
    // Between what setup needs and what a whole connect needs, by the device's own answers.
    const split = await ctx.findHeapSplit('good');
    ctx.note(`heap split found in ${split.probes} connects: setup needs ${split.setupFails}-${split.setupPasses} B free, a connect ${split.connects} B`);
    const leave = split.handshakeFails
      ?? ctx.skip(`no free heap between setup (${split.setupPasses} B) and a whole connect (${split.connects} B) makes the handshake fail on this device`);
    const { free } = await ctx.device.command('heap.stats');
    await ctx.device.command('heap.reserve', { bytes: free - leave });
    const result = await ctx.connect('good');
    expect(result).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
    expect(result.error!.stack_err_name).to.match(/ALLOC_FAILED$/);
    expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x(2880|7F00|0010)$/);
    await ctx.checkHeapReturned(result);
    await ctx.device.command('heap.release');
    expect((await ctx.attempt('good')).mqtt, 'no MQTT session').to.equal(null);
  });
});
