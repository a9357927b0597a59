/** The emulated board on its own: boot text, hello, the commands' contract, malformed input. */
import { expect } from 'chai';
import { checkHello, encodeCommand, type HelloReply } from '../../harness/protocol/index.ts';
import { Board, openStreamBoard, parseSdkconfig, REFERENCE_SDKCONFIG, type StreamBoard } from '../../emulator/index.ts';
import { listedSuites } from '../../harness/lab/tls-names.ts';
import { AgentClient } from './agent-client.ts';

describe('emulated ESP32 board', function () {
  let served: StreamBoard;
  let agent: AgentClient;

  beforeEach(async function () {
    served = openStreamBoard({ index: 7 });
    agent = new AgentClient(served.stream);
    await agent.waitEvent('boot');
  });
  afterEach(() => served.close());

  it('boots with ROM and bootloader text, app_main, then the boot event', function () {
    expect(agent.console).to.include('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)');
    expect(agent.console.some((l) => /^I \(\d+\) boot: ESP-IDF v5\.5(\.\d+)? 2nd stage bootloader$/.test(l))).to.equal(true);
    expect(agent.console.some((l) => /^I \(\d+\) main_task: Calling app_main\(\)$/.test(l))).to.equal(true);
    expect(agent.events[0]).to.deep.equal({ name: 'boot', body: { proto: 1, reason: 'POWERON_RESET' } });
  });

  it('answers hello with the reference firmware\'s identity and Mbed TLS settings', async function () {
    const hello = checkHello(await agent.ok('hello')) as HelloReply;
    expect(hello.proto).to.equal(1);
    expect(hello.chip).to.deep.include({ model: 'ESP32', cores: 2, mac: '24:0a:c4:00:00:07' });
    expect(hello.fw.idf).to.match(/^v5\.5/);
    expect(hello.mbedtls).to.include({ have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false });
    expect(hello.mbedtls.ciphersuites[0]).to.equal('TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384');
    expect(hello.mbedtls.ciphersuites.some((s) => s.includes('CHACHA20'))).to.equal(false);
    expect(hello.heap.free).to.equal(147_968);
    expect(hello.time.synced).to.equal(false);
  });

  it("lists only suites the ClientHello reader can name: ARIA (on by default) and Camellia, static ECDH and RSA included", async function () {
    // The endpoint shows a real board's ClientHello by IANA names; a suite missing from the table
    // would show as hex. Mbed TLS names a suite as IANA does, with - for _.
    const named = new Set(listedSuites().values());
    const iana = (s: string) => s.replace(/^TLS1-3-/, 'TLS-').replaceAll('-', '_');
    const camellia = openStreamBoard({ sdkconfig: parseSdkconfig(`${REFERENCE_SDKCONFIG}CONFIG_MBEDTLS_CAMELLIA_C=y\n`, 'camellia') });
    try {
      const withCamellia = checkHello(await new AgentClient(camellia.stream).ok('hello')).mbedtls.ciphersuites;
      const suites = [...checkHello(await agent.ok('hello')).mbedtls.ciphersuites, ...withCamellia];
      expect(suites.filter((s) => s.includes('-ARIA-'))).to.have.length.above(20);
      expect(suites.filter((s) => s.includes('-CAMELLIA-'))).to.not.be.empty;
      expect([...new Set(suites.map(iana))].filter((n) => !named.has(n))).to.deep.equal([]);
    } finally {
      await camellia.close();
    }
  });

  it('keeps a clock: 1970 plus uptime until time.set', async function () {
    expect((await agent.ok<{ epoch: number }>('time.clear')).epoch).to.be.below(100);
    const now = Math.floor(Date.now() / 1000);
    expect(await agent.ok('time.set', { epoch: now })).to.deep.equal({ epoch: now, synced: true });
    const hello = await agent.ok<HelloReply>('hello');
    expect(hello.time.synced).to.equal(true);
    expect(hello.time.epoch).to.be.within(now, now + 5);
  });

  it('reset reboots: a new boot event, store and clock cleared', async function () {
    await agent.ok('time.set', { epoch: 1_800_000_000 });
    await agent.put('x', 'ca', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const from = agent.events.length;
    agent.sendRaw(encodeCommand(900, 'reset'));
    const boot = await agent.waitEvent('boot', 5_000, from);
    expect(boot.body).to.deep.equal({ proto: 1, reason: 'SW_CPU_RESET' });
    expect(await agent.ok('store.list')).to.deep.equal({ slots: [] });
    expect((await agent.ok<HelloReply>('hello')).time.synced).to.equal(false);
  });

  describe('credential store', function () {
    it('takes a PEM in parts and lists it with its SHA-256', async function () {
      const pem = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(3000)}\n-----END CERTIFICATE-----\n`;
      await agent.put('ca', 'ca', pem);
      const list = await agent.ok<{ slots: Array<{ slot: string; kind: string; bytes: number; sha256: string }> }>('store.list');
      expect(list.slots).to.have.length(1);
      expect(list.slots[0]).to.include({ slot: 'ca', kind: 'ca', bytes: Buffer.byteLength(pem) });
      expect(list.slots[0]!.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(await agent.ok('store.del', { slot: 'ca' })).to.deep.equal({ slot: 'ca' });
    });

    it('refuses a ninth slot (no_slot) and deleting one that is not there', async function () {
      for (let i = 0; i < 8; i++) await agent.put(`s${i}`, 'ca', 'x');
      const ninth = await agent.command('store.put', { slot: 's8', kind: 'ca', data: 'eA==', part: '1/1' });
      expect(ninth).to.deep.include({ status: 'err' });
      expect(ninth.body.code).to.equal('no_slot');
      expect((await agent.command('store.del', { slot: 'nope' })).body.code).to.equal('no_slot');
    });
  });

  describe('malformed input', function () {
    it('garbage that is not a protocol line: a warning on the console, and the board keeps working', async function () {
      agent.sendRaw('\x00\xff garbage');
      await agent.waitConsole(/^W \(\d+\) hil_agent: ignored input that is not a protocol line/);
      expect((await agent.ok('heap.stats')).free).to.equal(147_968);
    });

    const refusals: Array<[string, string, string]> = [
      ['an unknown command', '@hil 41 frobnicate', 'unknown_command'],
      ['bad base64', '@hil 42 store.put slot=a kind=ca data=@@@@ part=1/1', 'bad_args'],
      ['a missing argument', '@hil 43 time.set', 'bad_args'],
      ['a value out of range', '@hil 44 tls.connect host=127.0.0.1 port=99999', 'bad_args'],
      ['an over-long line', `@hil 45 store.put slot=a kind=ca data=${'A'.repeat(2000)} part=1/1`, 'too_long'],
      ['a slot that does not exist', '@hil 46 tls.connect host=127.0.0.1 port=1 ca=nothing', 'no_slot'],
    ];
    for (const [what, line, code] of refusals) {
      it(`${what}: err ${code}, and the board keeps working`, async function () {
        const id = Number(line.split(' ')[1]);
        const reply = await agent.expectReply(id, () => agent.sendRaw(line));
        expect(reply.status).to.equal('err');
        expect(reply.body.code).to.equal(code);
        expect(reply.body.message).to.be.a('string').and.to.not.include('\n');
        expect((await agent.ok('heap.stats')).free).to.equal(147_968);
      });
    }

    const misspelt: Array<[string, string, RegExp]> = [
      ['a misspelt argument (skip_cm)', '@hil 47 tls.connect host=127.0.0.1 port=1 skip_cm=1',
        /^tls\.connect: unknown argument 'skip_cm' \(tls\.connect takes host, port, sni, ca, cert, key, ciphers, tls, timeout_ms, skip_cn, alpn, hold_ms, stack\)$/],
      ['an argument hello does not take', '@hil 48 hello verbose=1', /^hello: unknown argument 'verbose' \(hello takes no arguments\)$/],
      ['an MQTT argument on tls.connect', '@hil 49 tls.connect host=127.0.0.1 client_id=x', /^tls\.connect: unknown argument 'client_id'/],
      ['the reserved slot name none', '@hil 50 store.put slot=none kind=ca data=QQ== part=1/1', /^store\.put: slot name 'none' is reserved \(ca=none means no CA\)$/],
    ];
    for (const [what, line, message] of misspelt) {
      it(`${what}: err bad_args naming it, as docs/protocol.md says`, async function () {
        const id = Number(line.split(' ')[1]);
        const reply = await agent.expectReply(id, () => agent.sendRaw(line));
        expect(reply.status).to.equal('err');
        expect(reply.body).to.include({ code: 'bad_args' });
        expect(reply.body.message).to.match(message);
      });
    }

    it('every argument of mqtt.connect is still taken', async function () {
      const reply = await agent.command('mqtt.connect', {
        host: '127.0.0.1', port: 1, sni: 'x', ca: 'none', ciphers: 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', tls: 'any',
        timeout_ms: 500, skip_cn: 1, alpn: 'mqtt', hold_ms: 0, client_id: 'c', keepalive: 60, clean: 1, username: 'u', password: 'cA==',
      });
      expect(reply.status, JSON.stringify(reply.body)).to.equal('ok');
      expect((reply.body.error as { esp_err_name: string }).esp_err_name).to.equal('ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST');
    });

    it('a command while another runs: err busy', async function () {
      // A server that accepts TCP and never answers keeps the board busy until timeout_ms.
      const { createServer } = await import('node:net');
      const silent = createServer(() => { /* never answers */ });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { generate } = await import('selfsigned');
        const ca = await generate([{ name: 'commonName', value: 'busy test CA' }], { keyType: 'ec', algorithm: 'sha256' });
        await agent.put('ca', 'ca', ca.cert);
        const port = (silent.address() as { port: number }).port;
        const slow = agent.command('tls.connect', { host: '127.0.0.1', port, ca: 'ca', timeout_ms: 800 });
        const busy = await agent.command('hello');
        expect(busy.status).to.equal('err');
        expect(busy.body.code).to.equal('busy');
        const result = await slow;
        expect(result.status).to.equal('ok');
        expect((result.body.error as { esp_err_name: string }).esp_err_name).to.equal('ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT');
        expect((await agent.command('hello')).status).to.equal('ok');
      } finally {
        silent.close();
      }
    });
  });

  it('is free again by the time its reply is out: a command sent the moment a reply is read is taken, not refused busy', async function () {
    const second = await new Promise<string>((resolve) => {
      const board: Board = new Board({
        index: 8,
        write: (text) => {
          // Synchronously, inside the reply's write: as fast as any host can be.
          if (text.startsWith('@hil 1 ')) board.input('@hil 2 heap.stats');
          if (text.startsWith('@hil 2 ')) resolve(text);
        },
      });
      board.input('@hil 1 hello');
    });
    expect(second).to.match(/^@hil 2 ok /);
  });

  describe('heap', function () {
    it('reserve holds memory until release; stats report free, low-water mark and largest block', async function () {
      expect(await agent.ok('heap.reserve', { bytes: 100_000 })).to.deep.equal({ reserved: 100_000, free: 47_968 });
      const stats = await agent.ok<{ free: number; min_free: number; largest: number }>('heap.stats');
      expect(stats).to.deep.equal({ free: 47_968, min_free: 47_968, largest: 47_968 });
      expect(await agent.ok('heap.release')).to.deep.equal({ free: 147_968 });
      expect((await agent.ok<{ min_free: number }>('heap.stats')).min_free).to.equal(47_968);
    });
  });
});
