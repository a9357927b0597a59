/**
 * A device that answers slightly wrong: an agent written from docs/protocol.md (docs-agent.ts),
 * over a real TCP socket, with one reply or event spoilt per row. Each row must end as a
 * DeviceError (exit 3) naming the device, the command and the field, never as an assertion
 * failure, a TypeError in a scenario or a wait to the timeout; and the device answers the next
 * command as before. Then the same through `bin/hilt.js run` (an `error` outcome, exit 3), a
 * fast-check fuzz of replies and events, and the host's timing when the device has none. (The
 * whole catalogue on this agent: docs-agent-catalogue.spec.ts.)
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Device, DeviceError, MalformedReplyError } from '../../harness/device/device.ts';
import { TcpTransport } from '../../harness/transport/index.ts';
import { checkReply, hasReplySchema, type ArgValue } from '../../harness/protocol/index.ts';
import { hilt, latestResults, tempDir, writeScenario } from '../helpers.ts';
import { DocsAgent, type Body, type Spoil } from './docs-agent.ts';

const SEED = 10_510;

/** A port nothing listens on: the docs agent's connects are refused there. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sets `path` (dotted, [i] for items) in a copy of `body` to `value`; `undefined` deletes it. */
function set(body: Body, path: string, value: unknown): Body {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return copy;
}

/** Spoils the reply to `command` (or event `command`) only, once, with `change`. */
function once(command: string, change: (body: Body) => Body | string): Spoil {
  let done = false;
  return (c, body) => {
    if (c !== command || done) return body;
    done = true;
    return change(body);
  };
}

interface Row {
  what: string;
  command: string;
  args?: Record<string, ArgValue>;
  change: (body: Body) => Body | string;
  error: RegExp;
}

const ROWS: Row[] = [
  { what: 'a heap size as a string', command: 'heap.stats', change: (b) => set(b, 'free', String(b.free)),
    error: /heap\.stats reply malformed: heap\.stats\.free: expected integer, got string "160000"$/ },
  { what: 'a fractional heap size', command: 'heap.stats', change: (b) => set(b, 'free', 1.5),
    error: /heap\.stats\.free: expected integer, got number 1\.5$/ },
  { what: 'a heap size JSON reads as Infinity', command: 'heap.stats', change: () => '@hil <id> ok {"free":1e999,"min_free":1,"largest":1}',
    error: /heap\.stats\.free: expected integer, got a number out of range$/ },
  { what: 'synced as 1, not true', command: 'time.set', args: { epoch: 1_764_460_800 }, change: (b) => set(b, 'synced', 1),
    error: /time\.set\.synced: expected boolean, got number 1$/ },
  { what: 'store.put without complete', command: 'store.put', args: { slot: 'ca', kind: 'ca', data: 'AAAA' }, change: (b) => set(b, 'complete', undefined),
    error: /store\.put\.complete: missing, expected boolean$/ },
  { what: 'store.list slots as an object', command: 'store.list', change: () => ({ slots: {} }),
    error: /store\.list\.slots: expected array of objects, got object$/ },
  { what: 'heap.reserve with reserved null', command: 'heap.reserve', args: { bytes: 1000 }, change: (b) => set(b, 'reserved', null),
    error: /heap\.reserve\.reserved: expected integer, got null$/ },
  { what: 'connected as a string', command: 'tls.connect', change: (b) => set(b, 'connected', 'false'),
    error: /tls\.connect reply malformed: tls\.connect\.connected: expected boolean, got string "false"$/ },
  { what: 'esp_err written in hex', command: 'tls.connect', change: (b) => set(b, 'error.esp_err', '0x8006'),
    error: /tls\.connect\.error\.esp_err: expected integer, got string "0x8006"$/ },
  { what: 'error left out rather than null', command: 'tls.connect', change: (b) => set(b, 'error', undefined),
    error: /tls\.connect\.error: missing, expected object or null$/ },
  { what: 'heap figures said to be measured by the host', command: 'tls.connect', change: (b) => set(b, 'heap.source', 'host'),
    error: /tls\.connect\.heap\.source: expected one of device\|model, got string "host"$/ },
  { what: 'a timing without total_ms', command: 'tls.connect',
    change: (b) => set(b, 'timing', { dns_ms: 1, tcp_ms: null, tls_ms: null, mqtt_ms: null, source: 'device' }),
    error: /tls\.connect\.timing\.total_ms: missing, expected number$/ },
  { what: 'stack null rather than left out', command: 'tls.connect', change: (b) => set(b, 'stack', null),
    error: /tls\.connect\.stack: expected object, got null$/ },
  { what: 'a stack peak over its size', command: 'tls.connect', change: (b) => set(b, 'stack', { size: 2048, peak_used: 4096, source: 'device' }),
    error: /tls\.connect\.stack\.peak_used: more than size: a task that used more stack than it has overflowed, and does not reply$/ },
  { what: 'verify_info as one string', command: 'tls.connect', change: (b) => set(b, 'error.verify_info', 'none'),
    error: /tls\.connect\.error\.verify_info: expected array of strings, got string "none"$/ },
  { what: 'an unknown mqtt_error_type', command: 'mqtt.connect', args: { client_id: 'd1' }, change: (b) => set(b, 'error.mqtt_error_type', 'TLS'),
    error: /mqtt\.connect\.error\.mqtt_error_type: expected one of TCP_TRANSPORT\|CONNECTION_REFUSED or null, got string "TLS"$/ },
  { what: 'a CONNACK code as a string', command: 'mqtt.connect', args: { client_id: 'd1' }, change: (b) => set(b, 'mqtt', { session_present: false, connack: '5' }),
    error: /mqtt\.connect\.mqtt\.connack: expected integer, got string "5"$/ },
  { what: 'publish without acked', command: 'mqtt.publish', args: { topic: 't', qos: 1 }, change: (b) => set(b, 'acked', undefined),
    error: /mqtt\.publish\.acked: missing, expected boolean$/ },
  { what: 'a granted QoS as a string', command: 'mqtt.subscribe', args: { topic: 't', qos: 1 }, change: (b) => set(b, 'granted', '1'),
    error: /mqtt\.subscribe\.granted: expected integer, got string "1"$/ },
  { what: 'an err reply with a code v1 does not have', command: 'heap.stats', change: () => '@hil <id> err {"code":"oops","message":"no"}',
    error: /heap\.stats reply malformed: err\.code: expected one of bad_args\|.*\|internal, got string "oops"$/ },
  { what: 'a reply whose JSON is cut', command: 'heap.stats', change: () => '@hil <id> ok {"free":16',
    error: /heap\.stats reply garbled: body is not JSON/ },
  { what: 'a reply whose body is an array', command: 'heap.stats', change: () => '@hil <id> ok [1,2]',
    error: /heap\.stats reply garbled: body is an array, expected a JSON object$/ },
];

describe('faults: protocol schemas', function () {
  this.timeout(30_000);
  let agent: DocsAgent;
  let device: Device;
  let refused: number;

  before(async function () {
    refused = await closedPort();
  });
  beforeEach(async function () {
    agent = await DocsAgent.start();
  });
  afterEach(async function () {
    await device?.close();
    agent.close();
  });

  async function open(options: { commandTimeoutMs?: number } = {}): Promise<Device> {
    device = await Device.open(new TcpTransport({ host: '127.0.0.1', port: agent.port }), { commandTimeoutMs: 10_000, ...options });
    return device;
  }

  function args(row: Row): Record<string, ArgValue> {
    return row.command.endsWith('.connect') ? { host: '127.0.0.1', port: refused, ca: 'none', ...row.args } : row.args ?? {};
  }

  it('the agent written from the page passes every check as it is', async function () {
    await open();
    expect(device.hello!.fw.elf_sha256).to.equal(null);
    expect((await device.command('store.put', { slot: 'ca', kind: 'ca', data: 'AAAA' })).complete).to.equal(true);
    expect((await device.command('heap.reserve', { bytes: 1000 })).free).to.equal(159_000);
    const r = await device.connect('mqtt.connect', { host: '127.0.0.1', port: refused, ca: 'none', client_id: 'd1' });
    // lwIP reports a refused port (RST) as a reset: 104, as docs/protocol.md's table says.
    expect(r.error).to.include({ esp_err_name: 'ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST', sock_errno: 104, mqtt_error_type: 'TCP_TRANSPORT' });
  });

  for (const row of ROWS) {
    it(`${row.command}: ${row.what} is a DeviceError naming the field, and the device goes on`, async function () {
      await open();
      agent.spoil = once(row.command, row.change);
      const started = performance.now();
      const err = await device.command(row.command as 'hello', args(row)).then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(MalformedReplyError);
      const e = err as DeviceError;
      expect(e.exitCode).to.equal(3);
      expect(e.message).to.match(new RegExp(`^tcp:127\\.0\\.0\\.1:${agent.port}: `));
      expect(e.message).to.match(row.error);
      expect(e.message).to.not.include('\n');
      // Decided on the reply, not at the command's 10 s timeout.
      expect(performance.now() - started).to.be.below(5_000);
      expect((await device.command('heap.stats')).free).to.be.a('number');
    });
  }

  it('reset answered with a malformed err: a DeviceError at once, not a wait for the boot event', async function () {
    await open();
    agent.spoil = once('reset', () => '@hil <id> err {"code":"rebooting","message":"later"}');
    const started = performance.now();
    const err = await device.reset(10_000).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(DeviceError);
    expect((err as DeviceError).message).to.match(/reset reply malformed: err\.code: expected one of .*, got string "rebooting"$/);
    expect(performance.now() - started).to.be.below(5_000);
  });

  describe('hello', function () {
    it('a hello with ciphersuites as one string: opening fails, exit 3, naming the field', async function () {
      agent.spoil = once('hello', (b) => set(b, 'mbedtls.ciphersuites', 'all'));
      const err = await open().then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(DeviceError);
      expect((err as DeviceError).message).to.match(/: hello reply malformed: hello\.mbedtls\.ciphersuites: expected array of strings, got string "all"$/);
    });

    it('a hello of protocol 2: refused naming both versions', async function () {
      agent.spoil = once('hello', (b) => set(b, 'proto', 2));
      const err = await open().then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(DeviceError);
      expect((err as DeviceError).message).to.match(/the device speaks agent protocol 2, this hilt speaks 1.*: update hilt or the agent firmware$/);
    });
  });

  describe('events', function () {
    const events: [string, Body, (b: Body) => Body, RegExp][] = [
      ['boot', { proto: 1, reason: 'POWERON_RESET' }, (b) => set(b, 'proto', undefined), /boot event malformed: boot\.proto: missing, expected integer$/],
      ['mqtt.message', { topic: 't', qos: 1, payload: 'aGk=' }, (b) => set(b, 'qos', '1'), /mqtt\.message event malformed: mqtt\.message\.qos: expected integer, got string "1"$/],
      ['mqtt.disconnected', { reason: 'keepalive' }, () => ({ why: 'keepalive' }), /mqtt\.disconnected\.reason: missing, expected string$/],
    ];
    for (const [name, body, change, error] of events) {
      it(`${name} with a wrong body: waiting for it is a DeviceError, also when it came before the wait`, async function () {
        await open();
        const mark = device.eventMark();
        agent.spoil = once(name, change);
        agent.event(name, body);
        const err = await device.waitEvent(name, { since: mark, timeoutMs: 5_000 }).then(() => null, (e: unknown) => e);
        expect(err).to.be.instanceOf(DeviceError);
        expect((err as DeviceError).message).to.match(error);
        // The next, well-formed one is taken.
        const next = device.eventMark();
        agent.event(name, body);
        expect((await device.waitEvent(name, { since: next, timeoutMs: 5_000 })).body).to.deep.equal(body);
      });
    }

    it('an event v1 does not have, and fields it does not know, pass: a later version may add them', async function () {
      await open();
      const mark = device.eventMark();
      agent.event('ota.progress', { percent: 'ten' });
      expect((await device.waitEvent('ota.progress', { since: mark, timeoutMs: 5_000 })).body).to.deep.equal({ percent: 'ten' });
      agent.spoil = once('heap.stats', (b) => ({ ...b, fragments: 3 }));
      expect(await device.command('heap.stats')).to.deep.equal({ free: 160_000, min_free: 120_000, largest: 110_592 });
    });
  });

  describe('timing measured by the host', function () {
    it('a connect result without timing gets total_ms from the host, phases null, source host', async function () {
      await open();
      const before = performance.now();
      const r = await device.connect('tls.connect', { host: '127.0.0.1', port: refused, ca: 'none' });
      const around = performance.now() - before;
      expect(r.timing).to.include({ dns_ms: null, tcp_ms: null, tls_ms: null, mqtt_ms: null, source: 'host' });
      expect(Number.isInteger(r.timing.total_ms)).to.equal(true);
      expect(r.timing.total_ms).to.be.at.least(0);
      // The host's own measure lies inside the time the call took.
      expect(r.timing.total_ms).to.be.at.most(Math.ceil(around));
    });

    it("a device's own timing is kept as it sent it", async function () {
      await open();
      const timing = { dns_ms: 0, tcp_ms: 1, tls_ms: null, mqtt_ms: null, total_ms: 1, source: 'device' };
      agent.spoil = once('tls.connect', (b) => ({ ...b, timing }));
      expect((await device.connect('tls.connect', { host: '127.0.0.1', port: refused, ca: 'none' })).timing).to.deep.equal(timing);
    });
  });

  describe('fuzz', function () {
    /** A valid reply of the docs agent with one field replaced by any JSON value, or left out. */
    const BODIES: [string, Record<string, ArgValue>][] = [
      ['heap.stats', {}], ['time.clear', {}], ['store.list', {}], ['heap.release', {}], ['mqtt.subscribe', { topic: 't', qos: 1 }],
      ['mqtt.publish', { topic: 't', qos: 1 }], ['tls.connect', { host: '127.0.0.1', ca: 'none' }],
    ];

    function paths(value: unknown, prefix = ''): string[] {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
      return Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...paths(v, `${prefix}${k}.`)]);
    }

    it('any reply is either taken and checks out again, or a one-line DeviceError: never a crash or a wait', async function () {
      await open({ commandTimeoutMs: 5_000 });
      const samples: Record<string, Body> = {};
      for (const [command, a] of BODIES) {
        agent.spoil = (c, body) => { if (c === command) samples[command] = body; return body; };
        await device.command(command as 'hello', command === 'tls.connect' ? { ...a, port: refused } : a);
      }
      let taken = 0;
      let refusedCount = 0;
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...BODIES),
        fc.nat(),
        fc.option(fc.oneof(fc.jsonValue(), fc.integer(), fc.boolean(), fc.constant(null), fc.string()), { nil: undefined }),
        async ([command, a], pick, value) => {
          const body = samples[command]!;
          const all = paths(body);
          const path = all[pick % all.length]!;
          agent.spoil = once(command, (b) => set(b, path, value));
          try {
            const r = await device.command(command as 'hello', command === 'tls.connect' ? { ...a, port: refused } : a);
            taken++;
            // What was taken is a well-formed reply: checking it again changes nothing (timing the
            // host filled in goes back to the host's measure).
            const timing = (r as { timing?: { source: string; total_ms: number } }).timing;
            const again = timing?.source === 'host' ? { ...r, timing: null } : r;
            if (hasReplySchema(command)) expect(checkReply(command, again, { elapsedMs: timing?.total_ms ?? 0 })).to.deep.equal(r);
          } catch (err) {
            if (!(err instanceof DeviceError)) throw err;
            refusedCount++;
            expect(err.message).to.match(new RegExp(`^tcp:127\\.0\\.0\\.1:\\d+: ${command.replace('.', '\\.')} reply malformed: ${command.replace('.', '\\.')}\\.\\S+: `));
            expect(err.message).to.not.include('\n');
          }
        },
      ), { seed: SEED, numRuns: 300 });
      console.log(`      replies: ${taken + refusedCount} tried, ${refusedCount} device errors, ${taken} taken`);
      expect(refusedCount).to.be.greaterThan(0);
    });

    it('any event body is either taken or a DeviceError when waited for', async function () {
      await open();
      await fc.assert(fc.asyncProperty(
        fc.constantFrom('boot', 'mqtt.message', 'mqtt.disconnected'),
        fc.dictionary(fc.constantFrom('proto', 'reason', 'topic', 'qos', 'payload'), fc.jsonValue()),
        async (name, body) => {
          agent.spoil = (_c, b) => b;
          const mark = device.eventMark();
          agent.event(name, body);
          const r = await device.waitEvent(name, { since: mark, timeoutMs: 5_000 }).then((e) => e, (e: unknown) => e as Error);
          if (r instanceof Error) expect(r).to.be.instanceOf(DeviceError);
          else expect(r.malformed).to.equal(undefined);
        },
      ), { seed: SEED, numRuns: 200 });
    });
  });

  describe('through hilt run', function () {
    let dir: string;
    let remove: () => Promise<void>;
    beforeEach(async function () {
      ({ dir, remove } = await tempDir('hilt-faults-schemas-'));
    });
    afterEach(async function () {
      await remove();
    });

    it('a malformed reply in a scenario is an error outcome (infrastructure), not an assertion, and the run exits 3', async function () {
      this.timeout(60_000);
      agent.spoil = once('heap.stats', (b) => set(b, 'free', 'lots'));
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { commandMs: 5_000, helloMs: 5_000, scenarioMs: 20_000 } }));
      const file = await writeScenario(dir, 'heap.spec.ts', `
describe('a device that answers wrong', () => {
  scenario('reads the heap', async (ctx) => { expect((await ctx.device.command('heap.stats')).free).to.be.above(0); });
  scenario('reads it again', async (ctx) => { expect((await ctx.device.command('heap.stats')).free).to.be.above(0); });
});`);
      const { code, stderr } = await hilt(['run', file, '--target', agent.target], { cwd: dir, timeoutMs: 50_000 });
      expect(code, stderr).to.equal(3);
      const r = await latestResults(dir);
      expect(r.scenarios.map((s) => [s.outcome, s.failure?.kind])).to.deep.equal([['error', 'infrastructure'], ['passed', undefined]]);
      expect(r.scenarios[0]!.failure!.message).to.match(/heap\.stats reply malformed: heap\.stats\.free: expected integer, got string "lots"$/);
      expect(stderr).to.not.match(/\n\s+at |AssertionError|TypeError/);
    });
  });
});
