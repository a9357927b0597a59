import { expect, scenario } from '../harness/index.ts';

describe('17 low stack', () => {
  scenario('a connect task with less stack than the handshake needs overflows: the stack-overflow panic names the task', async (ctx) => {
    // 2 KiB, the least stack= takes: the handshake needs 3.3 KB on the host agent and about 3.6 KB
    // on an ESP32 (Espressif's figure). A TLS connect, which every port runs in its hilt_connect
    // task (an ESP32's esp-mqtt would do an MQTT connect's handshake in its own mqtt_task).
    const stack = 2048;
    const panic = await ctx.expectPanic('stack_overflow', () => ctx.connect('good', { mqtt: false, args: { stack } }));
    expect(panic.reason).to.equal('stack overflow in task hilt_connect');
    expect(panic.line).to.equal('***ERROR*** A stack overflow in task hilt_connect has been detected.');
    // The board came back from its reboot and answers.
    expect((await ctx.device.command('hello')).proto).to.equal(1);
  });
});
