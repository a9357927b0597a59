/**
 * The connect task's stack on the emulated board (emulator/stack.ts): every connect reports its
 * modelled stack, `stack=` sets the task's size, and a size the model's peak does not fit in ends
 * in ESP-IDF's stack-overflow panic and a reboot, with no reply, against the real lab.
 */
import { expect } from 'chai';
import { detectPanic } from '../../harness/device/log.ts';
import { openStreamBoard, type StreamBoard } from '../../emulator/index.ts';
import { CONNECT_STACK_DEFAULT, STACK_MODEL, stackAt } from '../../emulator/stack.ts';
import { withLab } from '../helpers.ts';
import { AgentClient } from './agent-client.ts';

describe('emulated ESP32: the connect task\'s stack', function () {
  const ctx = withLab();
  let served: StreamBoard;
  let agent: AgentClient;

  const slots = () => ({
    ca: ['ca', ctx.pki.bundle('bundle-current')] as ['ca', string],
    cert: ['cert', ctx.pki.material('client-valid').cert] as ['cert', string],
    key: ['key', ctx.pki.material('client-valid').key] as ['key', string],
  });

  before(async function () {
    served = openStreamBoard();
    agent = new AgentClient(served.stream);
    await agent.setUp(slots());
  });
  after(async function () {
    await served?.close();
  });

  const args = (extra: Record<string, string | number> = {}, mutual = true) => ({
    host: '127.0.0.1', port: ctx.lab.listener(mutual ? 'good' : 'good-no-client-auth').port, sni: 'localhost', ca: 'ca',
    ...(mutual ? { cert: 'cert', key: 'key' } : {}), client_id: 'hilt-device-1', ...extra,
  });

  it('reports the modelled stack of a connect: the default 8192 B task, and MQTT over the session as its deepest point', async function () {
    const result = await agent.connect('mqtt.connect', args());
    expect(result.connected, JSON.stringify(result.error)).to.equal(true);
    expect(result.stack).to.deep.equal({ size: CONNECT_STACK_DEFAULT, peak_used: stackAt('mqtt'), source: 'model' });
    // The host agent's figures the model is calibrated to: 3,340 B for the handshake, 3,372 B with MQTT.
    expect([stackAt('handshake'), stackAt('mqtt')]).to.deep.equal([3340, 3372]);
    await agent.ok('mqtt.disconnect');
  });

  it('a connect esp-tls fails goes deepest printing its error lines, as measured on the host agent, even at TCP', async function () {
    const result = await agent.connect('tls.connect', { host: '127.0.0.1', port: 1, ca: 'ca' });
    expect(result.error!.esp_err_name).to.equal('ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST');
    expect(result.stack).to.deep.equal({ size: CONNECT_STACK_DEFAULT, peak_used: STACK_MODEL.task + STACK_MODEL.tlsError, source: 'model' });
    expect(result.stack!.peak_used).to.equal(3604);
  });

  it('stack= sets the task\'s size; one that fits the peak connects as before', async function () {
    const result = await agent.connect('mqtt.connect', args({ stack: 6144 }));
    expect(result.connected).to.equal(true);
    expect(result.stack).to.include({ size: 6144, peak_used: stackAt('mqtt') });
    await agent.ok('mqtt.disconnect');
  });

  for (const bad of ['2047', '65537', '0x2000', '8192.0', '-1']) {
    it(`stack=${bad}: err bad_args naming stack and its range`, async function () {
      const reply = await agent.command('mqtt.connect', { ...args(), stack: bad });
      expect(reply.status).to.equal('err');
      expect(reply.body).to.deep.equal({ code: 'bad_args', message: `stack: expected an integer 2048..65536, got '${bad}'` });
    });
  }

  it('a stack smaller than the handshake needs: ESP-IDF\'s stack-overflow panic, no reply, then a reboot with RAM cleared', async function () {
    const from = agent.console.length;
    const events = agent.events.length;
    const mark = ctx.lab.attempts.mark();
    let replied = false;
    // (its wait ends unanswered after the test: the board never replies to it)
    void agent.command('mqtt.connect', args({ stack: 3072 }), 10_000).then(() => { replied = true; }, () => {});
    const boot = await agent.waitEvent('boot', 10_000, events);
    expect(boot.body).to.deep.equal({ proto: 1, reason: 'SW_CPU_RESET' });
    const lines = agent.console.slice(from);
    const first = lines.findIndex((l) => l.startsWith('***ERROR***'));
    expect(lines[first]).to.equal('***ERROR*** A stack overflow in task hilt_connect has been detected.');
    // hilt's own panic detection reads it as a stack overflow naming the task.
    expect(detectPanic(lines[first]!)).to.deep.include({ kind: 'stack_overflow', reason: 'stack overflow in task hilt_connect' });
    const after = lines.slice(first);
    const at = (pattern: RegExp) => after.findIndex((l) => pattern.test(l));
    expect(at(/^Backtrace: 0x[0-9a-f]{8}:0x[0-9a-f]{8}/)).to.be.greaterThan(0);
    expect(at(/^ELF file SHA256: [0-9a-f]{16}$/)).to.be.greaterThan(at(/^Backtrace:/));
    expect(at(/^Rebooting\.\.\.$/)).to.be.greaterThan(at(/^ELF file SHA256:/));
    expect(at(/^rst:0xc \(SW_CPU_RESET\),boot:0x13/)).to.be.greaterThan(at(/^Rebooting\.\.\.$/));
    // The handshake went out on the wire before the board crashed; the broker saw the socket go.
    const attempt = await ctx.lab.attempts.next('good', { after: mark, until: 'closed', timeoutMs: 10_000 });
    expect(attempt.mqtt).to.equal(null);
    // RAM is gone: the store is empty and the heap is whole again.
    expect((await agent.ok<{ slots: unknown[] }>('store.list')).slots).to.deep.equal([]);
    // The command that crashed the board never replied: the board answered the next one without it.
    expect(replied, 'a reply to the connect that overflowed').to.equal(false);
    await agent.setUp(slots());
    const again = await agent.connect('mqtt.connect', args());
    expect(again.connected, 'the board works after its reboot').to.equal(true);
    await agent.ok('mqtt.disconnect');
  });
});
