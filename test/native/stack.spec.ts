/**
 * The stack a connect costs on the host agent (firmware/host/connect_stack.c): each connect runs
 * on a thread with a painted stack of 8192 bytes (or `stack=`), guarded below. Every wave-1
 * scenario's connect reports `stack: {size, peak_used, source: "device"}`; a stack smaller than
 * the handshake needs ends in ESP-IDF's stack-overflow panic, and the agent boots again.
 *
 * The replies are read as raw lines here, so the figure is the agent's own whatever the
 * harness's schema keeps. The table printed is the one in docs/fidelity.md.
 */
import { needAgent } from './toolchain.ts';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Device, PanicError } from '../../harness/device/device.ts';
import { storePutLines } from '../../harness/protocol/parts.ts';
import type { Pki } from '../../harness/pki/index.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { withLab } from '../helpers.ts';
import { HEAP_CASES } from './heap-figures.ts';

const PANIC_LINE = '***ERROR*** A stack overflow in task hilt_connect has been detected.';

/** The agent on stdin/stdout, line by line: replies by id, every line kept. */
class RawAgent {
  readonly lines: string[] = [];
  private nextId = 1;
  private waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  private readonly child: ChildProcess;

  constructor(binary: string) {
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
    });
  }

  /** The first line from now on that passes `test`, within 30 s. */
  waitLine(test: (line: string) => boolean, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 30 s; the agent printed:\n${this.lines.slice(-20).join('\n')}`)), 30_000);
      this.waiters.push({ test, resolve: (line) => { clearTimeout(timer); resolve(line); } });
    });
  }

  /** Sends `@hil <id> <command> <args>` and resolves with the reply's body (ok) or throws (err). */
  async command(command: string, args: Record<string, string | number> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const text = [`@hil ${id} ${command}`, ...Object.entries(args).map(([k, v]) => `${k}=${v}`)].join(' ');
    const reply = this.waitLine((line) => line.startsWith(`@hil ${id} `), `reply to ${command}`);
    this.child.stdin!.write(`${text}\n`);
    const line = await reply;
    const [, , status, ...body] = line.split(' ');
    if (status !== 'ok') throw new Error(`${command}: ${line}`);
    return JSON.parse(body.join(' ')) as Record<string, unknown>;
  }

  async store(slot: string, kind: 'ca' | 'cert' | 'key', pem: string): Promise<void> {
    for (const line of storePutLines(slot, kind, Buffer.from(pem), () => this.nextId++)) {
      const id = line.split(' ')[1];
      const reply = this.waitLine((l) => l.startsWith(`@hil ${id} `), 'store.put reply');
      this.child.stdin!.write(`${line}\n`);
      expect(await reply).to.match(/ ok /);
    }
  }

  /** The CA bundle, the identity's certificate and key in slots s_ca, s_cert, s_key; the clock set (or cleared). */
  async provision(pki: Pki, { trust = 'bundle-current', identity = 'client-valid', clockUnset = false } = {}): Promise<void> {
    await this.store('s_ca', 'ca', pki.bundle(trust));
    await this.store('s_cert', 'cert', pki.material(identity).cert);
    await this.store('s_key', 'key', pki.material(identity).key);
    if (clockUnset) await this.command('time.clear');
    else await this.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
  }

  /** Writes one line and waits for nothing (a command whose reply a panic replaces). */
  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    await exited;
  }
}

interface Stack { size: number; peak_used: number; source: string }

describe('native: the stack a connect costs on the host agent', function () {
  this.timeout(600_000);
  const listeners = [...new Set(HEAP_CASES.map((c) => c.listener))];
  const ctx = withLab({ profiles: listeners });
  let binary = '';
  let agent: RawAgent | null = null;

  before(async function () {
    binary = await needAgent(this);
  });
  afterEach(async () => { await agent?.close(); agent = null; });

  const connectArgs = (listener: string, extra: Record<string, string | number> = {}) => ({
    host: '127.0.0.1', port: ctx.lab.listener(listener).port, sni: 'localhost', ca: 's_ca', cert: 's_cert', key: 's_key', ...extra,
  });

  it('reports the connect task\'s stack for every wave-1 scenario: 8192 bytes, a peak a handshake can plausibly need', async () => {
    agent = new RawAgent(binary);
    await agent.waitLine((l) => l.includes(' boot '), 'boot event');
    const rows: string[] = [];
    for (const c of HEAP_CASES) {
      await agent.provision(ctx.pki, { trust: c.trust, identity: c.identity, clockUnset: c.clockUnset });
      const result = await agent.command('tls.connect', connectArgs(c.listener, c.skipCn ? { skip_cn: 1 } : {}));
      const stack = result.stack as Stack;
      expect(stack, c.scenario).to.include({ size: 8192, source: 'device' });
      // Below 1 KiB nothing of Mbed TLS ran; at the size, the paint is gone and the figure says nothing.
      expect(stack.peak_used, c.scenario).to.be.within(1024, 8191);
      if (result.connected) await agent.command('tls.close');
      rows.push(`| ${c.scenario} | ${result.connected ? 'connected' : 'refused'} | ${stack.peak_used} |`);
    }
    // The MQTT ones: CONNECT and CONNACK over the session on the same task.
    await agent.provision(ctx.pki);
    for (const [scenario, clientId] of [['01 mutual-TLS happy path, mqtt.connect', 'hilt-device-1'], ['15 identity mismatch', 'someone-else']] as const) {
      const result = await agent.command('mqtt.connect', connectArgs('good', { client_id: clientId }));
      const stack = result.stack as Stack;
      expect(stack, scenario).to.include({ size: 8192, source: 'device' });
      expect(stack.peak_used, scenario).to.be.within(1024, 8191);
      if (result.connected) await agent.command('mqtt.disconnect');
      rows.push(`| ${scenario} | ${result.connected ? 'connected' : 'refused'} | ${stack.peak_used} |`);
    }
    console.log(['    | scenario | outcome | stack_peak_used (B) |', ...rows.map((r) => `    ${r}`)].join('\n'));
  });

  it('the figure is the connect\'s, not the size it was given: stack=65536 reports that size and the same peak', async () => {
    agent = new RawAgent(binary);
    await agent.waitLine((l) => l.includes(' boot '), 'boot event');
    await agent.provision(ctx.pki);
    const small = (await agent.command('tls.connect', connectArgs('good'))).stack as Stack;
    await agent.command('tls.close');
    const large = (await agent.command('tls.connect', connectArgs('good', { stack: 65536 }))).stack as Stack;
    expect(large.size).to.equal(65536);
    // The same handshake on the same code path: within 10 % (cipher and ECDHE key sizes are fixed).
    expect(Math.abs(large.peak_used - small.peak_used)).to.be.at.most(small.peak_used / 10);
  });

  it('stack=2048 overflows: ESP-IDF\'s panic line naming hilt_connect, then the agent boots again (PANIC) and answers', async () => {
    agent = new RawAgent(binary);
    await agent.waitLine((l) => l.includes(' boot '), 'boot event');
    await agent.provision(ctx.pki);
    const panic = agent.waitLine((l) => l.startsWith('***ERROR***'), 'panic line');
    const rebooted = agent.waitLine((l) => l.startsWith('@hil * boot '), 'boot event after the panic');
    // No reply comes: the command is sent raw, and the panic and the boot event stand in for it.
    const from = agent.lines.length;
    agent.send(`@hil 900 tls.connect ${Object.entries(connectArgs('good', { stack: 2048 })).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    expect(await panic).to.equal(PANIC_LINE);
    expect(JSON.parse((await rebooted).slice('@hil * boot '.length))).to.deep.equal({ proto: 1, reason: 'PANIC' });
    const between = agent.lines.slice(from);
    expect(between.some((l) => l.startsWith('@hil 900 '))).to.equal(false);
    expect(between.some((l) => /^Backtrace: 0x/.test(l))).to.equal(true);
    expect(between).to.include('Rebooting...');
    expect(between).to.include('rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)');
    // A reboot: RAM is gone (no slots), the agent answers.
    expect(await agent.command('store.list')).to.deep.equal({ slots: [] });
  });

  it('through Device, as hilt drives the native target: the connect fails as a stack_overflow panic naming hilt_connect', async () => {
    const device = await Device.open(new ProcessTransport({ command: binary }));
    try {
      await device.store('s_ca', 'ca', ctx.pki.bundle('bundle-current'));
      await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
      const err = await device.connect('tls.connect', {
        host: '127.0.0.1', port: ctx.lab.listener('good').port, sni: 'localhost', ca: 's_ca', stack: 2048,
      }).then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(PanicError);
      expect((err as PanicError).panic).to.include({ kind: 'stack_overflow', reason: 'stack overflow in task hilt_connect' });
    } finally {
      await device.close();
    }
  });
});
