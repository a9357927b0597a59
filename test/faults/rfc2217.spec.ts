/**
 * Faults of remote serial ports, against scripted servers on real sockets: a port that is not
 * RFC 2217 at all (a raw TCP board, a silent one, a Telnet server without COM-PORT), a server that
 * never answers or answers wrongly (sredird's fixed SET-CONTROL answer), one that vanishes while
 * a command waits, and one that sends a subnegotiation with no end. Each: one line naming the
 * server and what to do, exit status 3, and no wait longer than its bound.
 */
import { expect } from 'chai';
import net, { type AddressInfo } from 'node:net';
import { Rfc2217Transport, TransportError, type CloseInfo } from '../../harness/transport/index.ts';
import {
  COM, DO, DONT, IAC, OPTION, SB, SE, SERVER_OFFSET, TelnetParser, WILL, comPortCommand, escapeData, negotiation,
} from '../../harness/wire/rfc2217.ts';
import { rejection } from '../helpers.ts';

/** How a scripted server answers a COM-PORT command: the answer's value, or null for none. */
type Answer = (code: number, value: Buffer) => Buffer | null;

interface Script {
  /** Sent as soon as a client connects. */
  greeting?: Buffer;
  /** Agree to COM-PORT when the client asks (default), refuse it, or stay silent. */
  comPort?: 'agree' | 'refuse' | 'silent';
  answer?: Answer;
  /** Bytes the client sent as data (unescaped). */
  onData?: (bytes: Buffer, socket: net.Socket) => void;
}

interface Fake {
  port: number;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

const echoAnswer: Answer = (_code, value) => value;

async function fakeServer(script: Script): Promise<Fake> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    if (script.greeting) socket.write(script.greeting);
    const parser = new TelnetParser();
    socket.on('data', (chunk: Buffer) => {
      for (const event of parser.push(chunk)) {
        if (event.type === 'data') script.onData?.(event.bytes, socket);
        if (event.type === 'negotiation' && event.verb === WILL && event.option === OPTION.comPort) {
          if ((script.comPort ?? 'agree') === 'agree') socket.write(negotiation(DO, OPTION.comPort));
          if (script.comPort === 'refuse') socket.write(negotiation(DONT, OPTION.comPort));
        }
        if (event.type === 'subnegotiation' && event.option === OPTION.comPort) {
          const code = event.payload[0]!;
          const value = (script.answer ?? echoAnswer)(code, event.payload.subarray(1));
          if (value) socket.write(comPortCommand(code + SERVER_OFFSET, value));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function expectOneLine(err: Error, pattern: RegExp): void {
  expect(err).to.be.instanceOf(TransportError);
  expect((err as TransportError).exitCode).to.equal(3);
  expect(err.message).to.match(pattern).and.not.include('\n');
}

describe('faults: rfc2217 (remote serial ports)', function () {
  let fake: Fake | null = null;
  let transport: Rfc2217Transport | null = null;
  afterEach(async function () {
    await transport?.close();
    await fake?.close();
    transport = fake = null;
  });
  const connect = (options: Partial<ConstructorParameters<typeof Rfc2217Transport>[0]> = {}) =>
    // Bounds short only where nothing will come (so the test is quick), long where an answer will.
    (transport = new Rfc2217Transport({ host: '127.0.0.1', port: fake!.port, ackTimeoutMs: 5_000, ...options }));
  const quick = { ackTimeoutMs: 300 };

  it('a raw TCP board (a console, no Telnet): named as such, with the tcp: target to use instead', async function () {
    const console = Buffer.from('I (312) boot: ESP-IDF v5.5 2nd stage bootloader\r\n');
    fake = await fakeServer({ greeting: console, comPort: 'silent' });
    const err = await rejection(connect(quick).open());
    expectOneLine(err, new RegExp(`^rfc2217://127\\.0\\.0\\.1:${fake.port} did not agree to the COM-PORT option within 300 ms and sent ${console.length} bytes of plain data: it is not an RFC 2217 server \\(a raw TCP port\\? then use tcp:127\\.0\\.0\\.1:${fake.port}\\)$`));
  });

  it('a silent TCP port: the negotiation wait is bounded and says nothing came', async function () {
    fake = await fakeServer({ comPort: 'silent' });
    const err = await rejection(connect(quick).open());
    expectOneLine(err, /did not agree to the COM-PORT option within 300 ms and sent nothing: it is not an RFC 2217 server/);
  });

  it('a silent TCP port with a short open bound: the open timeout names the server', async function () {
    fake = await fakeServer({ comPort: 'silent' });
    const err = await rejection(connect({ ackTimeoutMs: 5_000, openTimeoutMs: 300 }).open());
    expectOneLine(err, /^rfc2217:\/\/127\.0\.0\.1:\d+ did not finish opening within 300 ms: check the host and port, and that the server answers RFC 2217/);
  });

  it('a Telnet server without COM-PORT: the refusal is named, with the ser2net accepter that fixes it', async function () {
    fake = await fakeServer({ comPort: 'refuse' });
    const err = await rejection(connect().open());
    expectOneLine(err, /refused the COM-PORT option \(DONT 44\): it is a Telnet server without RFC 2217; in ser2net write accepter: telnet\(rfc2217\),tcp,PORT$/);
  });

  it('a server that agrees but never answers the line settings: bounded, naming the command', async function () {
    fake = await fakeServer({ answer: () => null, comPort: 'agree' });
    const err = await rejection(connect({ ackTimeoutMs: 1_000 }).open());
    expectOneLine(err, /did not answer SET-(BAUDRATE|DATASIZE|PARITY|STOPSIZE) within 1000 ms: check that the server is an RFC 2217 server/);
  });

  it('a server that keeps its own rate: the baud rate it answered is named', async function () {
    fake = await fakeServer({ answer: (code, value) => (code === COM.setBaudRate ? Buffer.from([0, 1, 0xc2, 0]) : value) });
    const err = await rejection(connect({ baudRate: 921600 }).open());
    expectOneLine(err, /did not take 921600 baud: it answered SET-BAUDRATE with 115200 baud$/);
  });

  it("sredird's fixed SET-CONTROL answer: a named mismatch, and ign_set_control goes on", async function () {
    // sredird answers every SET-CONTROL with 1 (pyserial's notes), which is why ign_set_control exists.
    const lines: number[] = [];
    fake = await fakeServer({
      answer: (code, value) => {
        if (code !== COM.setControl) return value;
        lines.push(value[0]!);
        return Buffer.from([1]);
      },
    });
    const err = await rejection((await openWith(connect())).setSignals({ dtr: true, rts: true }));
    expectOneLine(err, /did not take SET-CONTROL \(DTR on\): it answered SET-CONTROL \(no flow control\) \(a server that answers SET-CONTROL wrongly: add \?ign_set_control=1\)$/);
    await transport!.close();

    const lenient = await openWith(connect({ ignoreSetControl: true }));
    await lenient.setSignals({ dtr: false, rts: true });
    await lenient.setSignals({ dtr: true, rts: false });
    // Every command reached the server, and the ignored answers did not confuse the next command's.
    // (The baud rate's answer comes after all of them: one connection keeps them in order.)
    await lenient.setBaudRate(460800);
    expect(lines).to.deep.equal([
      1, 8, // the first client: no flow control at open, then DTR on, refused
      1, 11, 9, 8, 12, // the second: RTS before DTR into reset, DTR before RTS out of it (esptool's D1|R0)
    ]);
  });

  it('a server that vanishes while a command waits: the wait ends at once, and close says why', async function () {
    let dtrOnArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => { dtrOnArrived = resolve; });
    fake = await fakeServer({
      answer: (code, value) => {
        if (code !== COM.setControl || value[0] !== 8) return value;
        dtrOnArrived();
        return null;
      },
    });
    const t = await openWith(connect({ ackTimeoutMs: 15_000 }));
    const closes: CloseInfo[] = [];
    t.on('close', (info) => closes.push(info));
    const waiting = rejection(t.setSignals({ dtr: true, rts: true }));
    // The server holds the DTR command (the one it will not answer) when the connection dies.
    await arrived;
    const started = Date.now();
    for (const s of fake.sockets) s.destroy();
    const err = await waiting;
    expect(Date.now() - started, 'not the 15 s ack bound').to.be.below(5_000);
    expectOneLine(err, /^rfc2217:\/\/127\.0\.0\.1:\d+: (the server closed the connection|connection failed \(ECONNRESET\)|connection closed) before it answered$/);
    await untilTrue(() => closes.length > 0, t);
    expect(closes).to.have.length(1);
    expect(closes[0]!.expected).to.equal(false);
  });

  it('a subnegotiation with no end, then data: dropped within its bound, and the session goes on', async function () {
    const junk = Buffer.concat([Buffer.from([IAC, SB, OPTION.comPort]), Buffer.alloc(200_000, 0x41), Buffer.from([IAC, SE])]);
    fake = await fakeServer({
      greeting: Buffer.concat([junk, escapeData(Buffer.from([0x62, 0xff, 0x0a]))]),
      onData: (bytes, socket) => socket.write(escapeData(bytes)),
    });
    const t = connect();
    const got: Buffer[] = [];
    t.on('data', (chunk) => got.push(chunk));
    await t.open();
    await t.write('ping\n');
    await untilTrue(() => Buffer.concat(got).toString('latin1').endsWith('ping\n'), t);
    // The console bytes sent before negotiation ended are delivered, in order, first.
    expect(Buffer.concat(got).toString('latin1')).to.equal('b\xff\nping\n');
  });

  async function openWith(t: Rfc2217Transport): Promise<Rfc2217Transport> {
    await t.open();
    return t;
  }
});

/** Resolves once `test()` holds, checked whenever the transport says something (bounded). */
function untilTrue(test: () => boolean, t: Rfc2217Transport, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!test()) return;
      clearTimeout(timer);
      t.off('data', check);
      t.off('close', check);
      resolve();
    };
    const timer = setTimeout(() => {
      t.off('data', check);
      t.off('close', check);
      reject(new Error(`not within ${ms} ms`));
    }, ms);
    t.on('data', check);
    t.on('close', check);
    check();
  });
}
