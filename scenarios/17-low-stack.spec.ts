import { expect, scenario } from '../harness/index.ts';

describe('17 low stack', () => {
  scenario('a connect task with less stack than the handshake needs overflows: the stack-overflow panic names the task', async (ctx) => {
    // 3 KiB: below the 3.6 KB Espressif gives for Mbed TLS's handshake alone, on any port.
    const stack = 3072;
    const panic = await ctx.expectPanic('stack_overflow', () => ctx.connect('good', { args: { stack } }));
    expect(panic.reason).to.equal('stack overflow in task hilt_connect');
    expect(panic.line).to.equal('***ERROR*** A stack overflow in task hilt_connect has been detected.');
    // The board came back from its reboot and answers.
    expect((await ctx.device.command('hello')).proto).to.equal(1);
  });
});
