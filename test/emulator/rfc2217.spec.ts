/**
 * The emulator's RFC 2217 server byte by byte, with a raw socket for a client: what it offers,
 * what it refuses, how it answers queries, and what reaches the UartPeer behind it.
 */
import { expect } from 'chai';
import net from 'node:net';
import { serveRfc2217, type Rfc2217Server } from '../../emulator/index.ts';
import {
  COM, CONTROL, DO, DONT, IAC, OPTION, SERVER_OFFSET, TelnetParser, WILL, WONT, baudBytes, comPortCommand, negotiation,
  type TelnetEvent,
} from '../../harness/wire/rfc2217.ts';
import { loopbackPeer, type LoopbackPeer } from '../transport/peers.ts';

/** A raw Telnet client: sends bytes, and waits for the events it is looking for (bounded). */
async function rawClient(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const parser = new TelnetParser();
  const events: TelnetEvent[] = [];
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => { events.push(...parser.push(chunk)); wake?.(); });
  const until = async (test: (e: TelnetEvent[]) => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (!test(events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within 5 s: ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => { clearTimeout(timer); wake = null; resolve(); };
      });
    }
  };
  /** Sends a COM-PORT command and returns the value of its answer. */
  const ask = async (code: number, value: number[] | Buffer) => {
    const before = events.length;
    socket.write(comPortCommand(code, value));
    const isAnswer = (e: TelnetEvent) => e.type === 'subnegotiation' && e.payload[0] === code + SERVER_OFFSET;
    await until((all) => all.slice(before).some(isAnswer), `answer to command ${code}`);
    const answer = events.slice(before).find(isAnswer) as { payload: Buffer };
    return [...answer.payload.subarray(1)];
  };
  return { socket, events, until, ask };
}

describe("emulator: the RFC 2217 server", function () {
  let peer: LoopbackPeer;
  let served: Rfc2217Server;
  let client: Awaited<ReturnType<typeof rawClient>>;
  beforeEach(async function () {
    peer = loopbackPeer();
    served = await serveRfc2217({ peer });
    client = await rawClient(served.port);
  });
  afterEach(async function () {
    client.socket.destroy();
    await served.close();
  });

  it('offers COM-PORT, BINARY and SGA at once, as ser2net does, and refuses what it does not do', async function () {
    const negotiated = (verb: number, option: number) => (e: TelnetEvent[]) =>
      e.some((x) => x.type === 'negotiation' && x.verb === verb && x.option === option);
    await client.until(negotiated(DO, OPTION.comPort), 'DO COM-PORT');
    expect(client.events.filter((e) => e.type === 'negotiation')).to.deep.equal([
      { type: 'negotiation', verb: DO, option: OPTION.comPort },
      { type: 'negotiation', verb: WILL, option: OPTION.binary },
      { type: 'negotiation', verb: DO, option: OPTION.binary },
      { type: 'negotiation', verb: WILL, option: OPTION.sga },
      { type: 'negotiation', verb: DO, option: OPTION.sga },
    ]);
    const before = client.events.length;
    // ECHO and an option nobody knows are refused; an agreed option asked again gets no answer.
    client.socket.write(Buffer.concat([negotiation(DO, OPTION.echo), negotiation(WILL, 99), negotiation(WILL, OPTION.comPort)]));
    await client.until((e) => negotiated(DONT, 99)(e.slice(before)), 'DONT 99');
    expect(client.events.slice(before)).to.deep.equal([
      { type: 'negotiation', verb: WONT, option: OPTION.echo },
      { type: 'negotiation', verb: DONT, option: 99 },
    ]);
  });

  it('answers queries with what is in effect, and applies settings to the peer', async function () {
    expect(await client.ask(COM.setBaudRate, baudBytes(0))).to.deep.equal([...baudBytes(115200)]);
    expect(await client.ask(COM.setBaudRate, baudBytes(74880))).to.deep.equal([...baudBytes(74880)]);
    expect(peer.bauds).to.deep.equal([74880]);
    expect(await client.ask(COM.setBaudRate, baudBytes(0))).to.deep.equal([...baudBytes(74880)]);
    expect(await client.ask(COM.setDataSize, [0])).to.deep.equal([8]);
    expect(await client.ask(COM.setParity, [0])).to.deep.equal([1]);
    expect(await client.ask(COM.setStopSize, [0])).to.deep.equal([1]);
    expect(await client.ask(COM.setControl, [CONTROL.requestDtr])).to.deep.equal([CONTROL.dtrOn]);
    expect(await client.ask(COM.setControl, [CONTROL.dtrOff])).to.deep.equal([CONTROL.dtrOff]);
    expect(await client.ask(COM.setControl, [CONTROL.requestDtr])).to.deep.equal([CONTROL.dtrOff]);
    expect(await client.ask(COM.setControl, [CONTROL.requestRts])).to.deep.equal([CONTROL.rtsOn]);
    expect(await client.ask(COM.setControl, [CONTROL.requestFlow])).to.deep.equal([CONTROL.noFlowControl]);
    expect(peer.lines).to.deep.equal([{ dtr: true, rts: true }, { dtr: false, rts: true }]);
    expect(await client.ask(COM.purgeData, [3])).to.deep.equal([3]);
    expect(peer.purges).to.equal(1);
    expect(Buffer.from(await client.ask(COM.signature, [])).toString()).to.equal('hilt emulator');
  });

  it('passes data both ways with 0xFF doubled on the wire and single at the peer', async function () {
    const raw: Buffer[] = [];
    client.socket.on('data', (chunk: Buffer) => raw.push(chunk));
    const input: Buffer[] = [];
    const echo = peer.input;
    peer.input = (bytes) => { input.push(bytes); echo(bytes); };
    // The loopback peer sends back what it is given: the answer comes through the server again.
    client.socket.write(Buffer.from([0x41, IAC, IAC, 0x42]));
    const data = () => Buffer.concat(client.events.flatMap((e) => (e.type === 'data' ? [e.bytes] : [])));
    await client.until(() => data().length >= 3, 'the echo');
    expect([...Buffer.concat(input)]).to.deep.equal([0x41, 0xff, 0x42]);
    expect([...data()]).to.deep.equal([0x41, 0xff, 0x42]);
    expect(Buffer.concat(raw).includes(Buffer.from([0x41, IAC, IAC, 0x42]))).to.equal(true);
  });
});
