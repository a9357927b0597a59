/**
 * The emulated application firmware's MQTT behaviour against real peers: reconnect waits per
 * policy and defect (accept times at a listener that drops every connection), QoS 1 retransmit,
 * keepalive, kept sessions, reset and close. Durations are esp-mqtt's, times timeScale 0.05;
 * bounds are generous on the slow side (a busy machine adds delay, never removes it).
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { openAppBoard, type AppBoard, type AppSettings } from '../../emulator/index.ts';
import { reconnectDelayMs } from '../../emulator/app/index.ts';
import { withLabPki } from '../helpers.ts';
import { DroppingServer, MiniBroker, until, type MiniBrokerOptions } from './app-peers.ts';

const SCALE = 0.05;
/** What a loaded machine may add to one scaled wait (timers, a TCP connect). */
const SLACK_MS = 250;

function boards() {
  const open: AppBoard[] = [];
  afterEach(async () => { await Promise.all(open.splice(0).map((b) => b.close())); });
  return (settings: AppSettings) => {
    const board = openAppBoard(settings);
    open.push(board);
    const lines: string[] = [];
    const changed = new EventEmitter();
    board.stream.on('data', (chunk: Buffer) => { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); changed.emit('change'); });
    return { board, lines, changed };
  };
}

describe('emulated application firmware: reconnect policies', function () {
  const lab = withLabPki();
  const open = boards();
  let server: DroppingServer;
  beforeEach(async () => { server = await DroppingServer.start(); });
  afterEach(async () => { await server.close(); });

  const settings = (reconnect: AppSettings['reconnect'], defects: AppSettings['defects'] = []): AppSettings => ({
    brokerUri: `mqtts://127.0.0.1:${server.port}`, caPem: lab.pki.bundle('bundle-current'), certPem: null, keyPem: null,
    clientId: 'hilt-device-1', timeScale: SCALE, reconnect, defects,
  });
  /** Six attempts, then the five intervals between them, each checked against [low(n), high(n)]. */
  async function intervalsWithin(low: (n: number) => number, high: (n: number) => number): Promise<number[]> {
    await until(server, 'six connection attempts', () => (server.acceptedAt.length >= 6 ? true : undefined), 15_000);
    const intervals = server.intervals().slice(0, 5);
    intervals.forEach((ms, i) => {
      const n = i + 1;
      expect(ms, `interval ${n} of ${intervals.map(Math.round).join(', ')} ms`).to.be.within(low(n) - 5, high(n) + SLACK_MS);
    });
    return intervals;
  }

  it("'esp-mqtt' waits reconnect_timeout_ms every time", async () => {
    open(settings({ policy: 'esp-mqtt', reconnectTimeoutMs: 4000 }));
    await intervalsWithin(() => 4000 * SCALE, () => 4000 * SCALE);
  });

  it("'backoff-jitter' waits between baseMs and min(capMs, baseMs * 2^n)", async () => {
    open(settings({ policy: 'backoff-jitter', baseMs: 1000, capMs: 8000 }));
    await intervalsWithin(() => 1000 * SCALE, (n) => Math.min(8000, 1000 * 2 ** n) * SCALE);
  });

  it("'no-jitter' doubles exactly from baseMs", async () => {
    open(settings({ policy: 'backoff-jitter', baseMs: 1000, capMs: 20_000 }, ['no-jitter']));
    await intervalsWithin((n) => 1000 * 2 ** (n - 1) * SCALE, (n) => 1000 * 2 ** (n - 1) * SCALE);
  });

  it("'linear-backoff' grows by baseMs", async () => {
    open(settings({ policy: 'backoff-jitter', baseMs: 1000, capMs: 20_000 }, ['linear-backoff']));
    await intervalsWithin((n) => 1000 * n * SCALE, (n) => 1000 * n * SCALE);
  });

  it("'constant-backoff' waits baseMs every time", async () => {
    open(settings({ policy: 'backoff-jitter', baseMs: 1000, capMs: 20_000 }, ['constant-backoff']));
    await intervalsWithin(() => 1000 * SCALE, () => 1000 * SCALE);
  });

  it('full jitter: the wait is uniform between baseMs and the cap of the round (the rule, with chosen random numbers)', () => {
    const policy = { policy: 'backoff-jitter' as const, reconnectTimeoutMs: 10_000, baseMs: 1000, capMs: 8000 };
    expect([0, 0.5, 1].map((r) => reconnectDelayMs(policy, [], 1, () => r))).to.deep.equal([1000, 1500, 2000]);
    expect(reconnectDelayMs(policy, [], 2, () => 1)).to.equal(4000);
    expect(reconnectDelayMs(policy, [], 6, () => 1)).to.equal(8000);
    expect(reconnectDelayMs({ ...policy, policy: 'esp-mqtt' }, [], 6, () => 1)).to.equal(10_000);
  });
});

describe('emulated application firmware: QoS 1, keepalive and sessions', function () {
  const lab = withLabPki();
  const open = boards();
  const brokers: MiniBroker[] = [];
  afterEach(async () => { await Promise.all(brokers.splice(0).map((b) => b.close())); });

  async function broker(options: Omit<MiniBrokerOptions, 'tls'>): Promise<MiniBroker> {
    const m = lab.pki.material('server-valid');
    const b = await MiniBroker.start({ tls: { key: m.key, cert: m.chain }, ...options });
    brokers.push(b);
    return b;
  }
  const settings = (b: MiniBroker, more: Partial<AppSettings> = {}): AppSettings => ({
    brokerUri: `mqtts://127.0.0.1:${b.port}`, caPem: lab.pki.bundle('bundle-current'), certPem: null, keyPem: null,
    clientId: 'hilt-device-1', timeScale: SCALE, ...more,
  });
  const publishes = (b: MiniBroker) => b.of('publish').map((p) => p.packet as { messageId: number; dup: boolean; conn?: number });

  it('retransmits an unacknowledged PUBLISH with DUP and the same packet id, on the same connection', async () => {
    const b = await broker({ withholdPuback: true });
    open(settings(b, { publishPeriodMs: 20_000 }));
    await until(b, 'three PUBLISHes', () => (b.of('publish').length >= 3 ? true : undefined));
    const [first, ...retries] = publishes(b).slice(0, 3);
    expect(first!.dup).to.equal(false);
    for (const retry of retries) expect(retry).to.include({ messageId: first!.messageId, dup: true });
    expect(new Set(b.of('publish').slice(0, 3).map((p) => p.conn))).to.deep.equal(new Set([0]));
  });

  it("'new-packet-id-on-retry' sends the retry under a new packet id without DUP", async () => {
    const b = await broker({ withholdPuback: true });
    open(settings(b, { publishPeriodMs: 20_000, defects: ['new-packet-id-on-retry'] }));
    await until(b, 'three PUBLISHes', () => (b.of('publish').length >= 3 ? true : undefined));
    const three = publishes(b).slice(0, 3);
    expect(new Set(three.map((p) => p.messageId)).size).to.equal(3);
    expect(three.every((p) => !p.dup)).to.equal(true);
  });

  it('backoff keeps growing when the broker drops the device right after CONNACK (no reset before 30 s up)', async () => {
    const b = await broker({ closeAfterConnack: true });
    open(settings(b, { reconnect: { policy: 'backoff-jitter', baseMs: 1000, capMs: 60_000 }, defects: ['no-jitter'] }));
    await until(b, 'five CONNECTs', () => (b.of('connect').length >= 5 ? true : undefined), 15_000);
    const at = b.of('connect').map((p) => p.at);
    const intervals = at.slice(1).map((t, i) => t - at[i]!);
    intervals.forEach((ms, i) => {
      const expected = 1000 * 2 ** i * SCALE;
      expect(ms, `interval ${i + 1} of ${intervals.map(Math.round).join(', ')} ms`).to.be.within(expected - 5, expected + SLACK_MS);
    });
  });

  it('retries an unanswered SUBSCRIBE with the same packet id', async () => {
    const b = await broker({ withholdSuback: true });
    open(settings(b, { publishPeriodMs: 60_000 }));
    await until(b, 'two SUBSCRIBEs', () => (b.of('subscribe').length >= 2 ? true : undefined));
    const [first, retry] = b.of('subscribe');
    expect(retry!.packet.messageId).to.equal(first!.packet.messageId);
    expect(retry!.conn).to.equal(first!.conn);
  });

  it('sends PINGREQ every keepalive/2 even while it publishes', async () => {
    const b = await broker({});
    open(settings(b, { keepaliveS: 2, publishPeriodMs: 200 }));
    await until(b, 'two PINGREQs', () => (b.of('pingreq').length >= 2 ? true : undefined));
    const connack = b.of('connect')[0]!.at;
    // keepalive 2 s scaled is 100 ms: the first PINGREQ comes after half of it.
    expect(b.of('pingreq')[0]!.at - connack).to.be.within(50 - 5, 50 + SLACK_MS);
  });

  it("'no-pingreq-while-busy' sends no PINGREQ while it publishes more often than keepalive/2", async () => {
    const b = await broker({});
    open(settings(b, { keepaliveS: 2, publishPeriodMs: 200, defects: ['no-pingreq-while-busy'] }));
    // Twenty publishes take 200 ms scaled: two keepalive periods, four PINGREQs for a good app.
    await until(b, 'twenty PUBLISHes', () => (b.of('publish').length >= 20 ? true : undefined));
    expect(b.of('pingreq')).to.have.length(0);
  });

  it("'no-pingreq-while-busy' sends no PINGREQ after the host stalled it: what fell due meanwhile runs in deadline order", async () => {
    const b = await broker({});
    // A publish every 40 ms scaled, keepalive/2 is 50 ms: busy enough never to ping.
    const { lines, changed } = open(settings(b, { keepaliveS: 2, publishPeriodMs: 800, defects: ['no-pingreq-while-busy'] }));
    // A loaded host: once the app has its PUBACK (nothing left to retransmit), the process runs
    // nothing for 80 ms, three times. The app's loop (every 12.5 ms) falls due before its next
    // publish; on the chip's clock that publish went out at 40 ms: never idle for keepalive/2.
    const acked = () => lines.filter((l) => /MQTT_EVENT_PUBLISHED, msg_id=\d+$/.test(l)).length;
    for (let n = 1; n <= 3; n++) {
      const seen = acked();
      await until(changed, `a PUBACK after stall ${n - 1}`, () => (acked() > seen ? true : undefined));
      const end = performance.now() + 80;
      while (performance.now() < end);
    }
    await until(b, 'ten PUBLISHes', () => (b.of('publish').length >= 10 ? true : undefined));
    expect(b.of('pingreq')).to.have.length(0);
  });

  it('disconnects when PINGRESP does not come within keepalive, and says so', async () => {
    const b = await broker({ withholdPingresp: true });
    const { lines, changed } = open(settings(b, { keepaliveS: 2, publishPeriodMs: 60_000 }));
    await until(b, 'the app to close its connection', () => (b.closedAt[0] ? true : undefined));
    const connected = b.of('connect')[0]!.at;
    // esp-mqtt: PINGREQ at keepalive/2, gives up a full keepalive after the last PINGRESP (CONNACK here).
    expect(b.closedAt[0]! - connected).to.be.within(100 - 5, 150 + SLACK_MS);
    await until(changed, 'the console line', () => lines.find((l) => /E \(\d+\) mqtt_client: No PING_RESP, disconnected$/.test(l)));
  });

  it('acks a QoS 1 message of 128 KB with the right packet id', async () => {
    const b = await broker({});
    const { lines, changed } = open(settings(b, { publishPeriodMs: 60_000 }));
    await until(b, 'the SUBSCRIBE', () => (b.of('subscribe').length > 0 ? true : undefined));
    b.publishTo(0, 'devices/hilt-device-1/cmd', Buffer.alloc(128 * 1024, 0x61), 4242);
    const ack = await until(b, 'a PUBACK', () => b.of('puback')[0]);
    expect(ack.packet.messageId).to.equal(4242);
    await until(changed, 'MQTT_EVENT_DATA', () => lines.find((l) => /MQTT_EVENT_DATA$/.test(l)));
  });

  it("'small-in-buffer' loses the connection on a 16 KB message (a record past its IN buffer)", async () => {
    const b = await broker({});
    const { lines, changed } = open(settings(b, { publishPeriodMs: 60_000, defects: ['small-in-buffer'] }));
    await until(b, 'the SUBSCRIBE', () => (b.of('subscribe').length > 0 ? true : undefined));
    b.publishTo(0, 'devices/hilt-device-1/cmd', Buffer.alloc(16 * 1024, 0x61), 4243);
    await until(b, 'the app to close its connection', () => (b.closedAt[0] ? true : undefined));
    expect(b.of('puback')).to.have.length(0);
    await until(changed, 'the read error', () => lines.find((l) => /E \(\d+\) esp-tls-mbedtls: read error :-28928:$/.test(l)));
  });

  it("'stack-overflow': a message over 4 KB overflows mqtt_task: ESP-IDF's panic lines, no PUBACK, silence, then a reboot whose network resets the old connection", async () => {
    const b = await broker({});
    const { lines, changed } = open(settings(b, { publishPeriodMs: 60_000, defects: ['stack-overflow'] }));
    await until(b, 'the SUBSCRIBE', () => (b.of('subscribe').length > 0 ? true : undefined));
    // A small message is handled as by the good app.
    b.publishTo(0, 'devices/hilt-device-1/cmd', Buffer.alloc(64, 0x61), 11);
    await until(b, 'the PUBACK of the small message', () => b.of('puback')[0]);
    b.publishTo(0, 'devices/hilt-device-1/cmd', Buffer.alloc(5000, 0x61), 12);
    await until(changed, 'the panic line', () => lines.find((l) => l === '***ERROR*** A stack overflow in task mqtt_task has been detected.'));
    const from = lines.indexOf('***ERROR*** A stack overflow in task mqtt_task has been detected.');
    // (the split above drops the empty lines ESP-IDF prints between them)
    const after = [/^Backtrace: (0x[0-9a-f]{8}:0x[0-9a-f]{8} )+\|<-CORRUPTED$/, /^ELF file SHA256: [0-9a-f]{16}$/, /^Rebooting\.\.\.$/, /^ets /, /^rst:0xc \(SW_CPU_RESET\)/];
    after.forEach((pattern, i) => expect(lines[from + 1 + i]).to.match(pattern));
    // The crashed chip sent nothing more on its connection; the next boot's network reset it.
    await until(b, 'the old connection to end', () => (b.closedAt[0] ? true : undefined));
    expect(b.resets[0], 'the broker saw ECONNRESET').to.equal(true);
    expect(b.of('puback').map((p) => (p.packet as { messageId: number }).messageId)).to.deep.equal([11]);
    const [closed, connected] = [b.closedAt[0]!, await until(b, 'a CONNECT after the reboot', () => (b.of('connect', 1).length > 0 ? performance.now() : undefined))];
    expect(connected).to.be.at.least(closed);
  });

  it('does not subscribe again when CONNACK says the session is kept (clean session off)', async () => {
    const b = await broker({ sessionPresent: (n) => n > 0 });
    open(settings(b, { cleanSession: false, publishPeriodMs: 60_000, reconnect: { policy: 'esp-mqtt', reconnectTimeoutMs: 1000 } }));
    await until(b, 'the first SUBSCRIBE', () => (b.of('subscribe', 0).length > 0 ? true : undefined));
    b.connections[0]!.destroy();
    await until(b, 'the second CONNECT', () => (b.of('connect', 1).length > 0 ? true : undefined));
    const second = b.of('connect', 1)[0]!.packet as { clean: boolean };
    expect(second.clean).to.equal(false);
    // The CONNECTED handler runs before the app reads anything else: once it acks a message
    // delivered now, it has decided whether to subscribe.
    b.publishTo(1, 'devices/hilt-device-1/cmd', Buffer.from('x'), 7);
    await until(b, 'the PUBACK on the second connection', () => b.of('puback', 1)[0]);
    expect(b.of('subscribe', 1)).to.have.length(0);
  });

  it("'resubscribe-on-session' subscribes again although the session is kept", async () => {
    const b = await broker({ sessionPresent: (n) => n > 0 });
    open(settings(b, { cleanSession: false, publishPeriodMs: 60_000, reconnect: { policy: 'esp-mqtt', reconnectTimeoutMs: 1000 }, defects: ['resubscribe-on-session'] }));
    await until(b, 'the first SUBSCRIBE', () => (b.of('subscribe', 0).length > 0 ? true : undefined));
    b.connections[0]!.destroy();
    await until(b, 'a SUBSCRIBE on the second connection', () => (b.of('subscribe', 1).length > 0 ? true : undefined));
  });

  it('reset(): the connection ends with a reset, the board boots again and reconnects', async () => {
    const b = await broker({});
    const { board, lines, changed } = open(settings(b, { publishPeriodMs: 60_000 }));
    await until(b, 'the first SUBSCRIBE', () => (b.of('subscribe', 0).length > 0 ? true : undefined));
    await board.reset();
    await until(b, 'the first connection to end', () => (b.closedAt[0] ? true : undefined));
    expect(b.resets[0], 'the broker saw ECONNRESET').to.equal(true);
    await until(b, 'a CONNECT after the reboot', () => (b.of('connect', 1).length > 0 ? true : undefined));
    await until(changed, 'two boots', () => (lines.filter((l) => l.startsWith('rst:0x1 (POWERON_RESET)')).length === 2 ? true : undefined));
    expect(lines.filter((l) => /app_init: ELF file SHA256:/.test(l))).to.have.length(2);
  });

  it('close(): stops everything, leaves no timer and ends the console stream', async () => {
    const b = await broker({ withholdPuback: true });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const { board } = open(settings(b, { publishPeriodMs: 1000, keepaliveS: 2 }));
    await until(b, 'a retransmitted PUBLISH', () => (b.of('publish').some((p) => (p.packet as { dup: boolean }).dup) ? true : undefined));
    const ended = new Promise<void>((resolve) => board.stream.once('close', () => resolve()));
    await board.close();
    await ended;
    await until(b, 'the connection to end', () => (b.closedAt[0] ? true : undefined));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).to.be.at.most(timersBefore);
  });
});
