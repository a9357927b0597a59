import { expect, scenario } from '../harness/index.ts';

describe('10 low heap at setup', () => {
  scenario('without room for the record buffers, ssl_setup fails cleanly and the heap comes back', async (ctx) => {
    const { mbedtls } = ctx.hello;
    if (mbedtls.dynamic_buffer) ctx.skip('the firmware uses dynamic buffers (CONFIG_MBEDTLS_DYNAMIC_BUFFER=y): nothing large is allocated at setup');
    // Where setup runs out on this device, by its own answers. Just short of it, the handshake
    // state's last allocation fails (Mbed TLS 3.6 says MBEDTLS_ERR_MD_ALLOC_FAILED there); half
    // the record buffers short, the buffers themselves do.
    const split = await ctx.findHeapSplit('good');
    ctx.note(`heap split found in ${split.probes} connects: setup needs ${split.setupFails}-${split.setupPasses} B free, a connect ${split.connects} B`);
    const leave = split.setupFails - Math.floor((mbedtls.in_content_len + mbedtls.out_content_len) / 2);
    if (leave <= 0) ctx.skip(`setup runs out at ${split.setupFails} B free, less than half the record buffers: esp-tls fails before ssl_setup`);
    const { free } = await ctx.device.command('heap.stats');
    await ctx.device.command('heap.reserve', { bytes: free - leave });
    const result = await ctx.connect('good');
    expect(result).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_SETUP_FAILED');
    expect(result.error!.stack_err_name).to.equal('MBEDTLS_ERR_SSL_ALLOC_FAILED');
    expect(ctx).to.have.printed(/mbedtls_ssl_setup returned -0x7F00$/);
    await ctx.checkHeapReturned(result);
    await ctx.device.command('heap.release');
    // The broker saw a TCP connection and no handshake: setup failed before the ClientHello.
    expect((await ctx.attempt('good')).tls).to.include({ outcome: 'failed' });
  });
});
