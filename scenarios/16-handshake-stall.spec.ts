import { expect, scenario } from '../harness/index.ts';

describe('16 handshake stall', () => {
  scenario('a broker that accepts TCP and never answers is given up after timeout_ms (+/-20%)', async (ctx) => {
    const timeoutMs = 2_000;
    const result = await ctx.connect('stall', { timeoutMs });
    expect(result).to.be.refusedWith('ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT');
    expect(result.timing.total_ms).to.be.within(timeoutMs * 0.8, timeoutMs * 1.2);
    expect(ctx).to.have.printed(/esp-tls: Failed to open new connection in specified timeout$/);
    // No hang: the device answers at once afterwards.
    expect((await ctx.device.command('hello')).proto).to.equal(1);
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('stall');
    expect(attempt.tls).to.include({ outcome: 'stalled' });
    expect(attempt.closed).to.include({ by: 'device' });
  });
});
