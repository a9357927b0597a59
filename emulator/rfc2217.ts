/**
 * An RFC 2217 server in front of a UartPeer, as ser2net is in front of a USB bridge: a board on
 * a TCP port whose baud rate and DTR/RTS lines the client sets (`hilt emulate --rfc2217 PORT`).
 *
 * One client at a time, like a serial port. Every COM-PORT command is answered with the value in
 * effect, as ser2net answers on a real UART. The lines follow a serial port's life: asserted when
 * a client connects (opening a tty raises DTR and RTS) and released when it leaves (HUPCL).
 */
import net, { type AddressInfo } from 'node:net';
import {
  COM, CONTROL, DO, DONT, OPTION, PARITY_NONE, SERVER_OFFSET, STOP_BITS_ONE, TelnetParser, WILL, WONT,
  baudBytes, comPortCommand, escapeData, negotiation, type Verb,
} from '../harness/wire/rfc2217.ts';
import type { UartPeer } from './uart.ts';

export interface Rfc2217Settings {
  host?: string;
  port?: number;
  peer: UartPeer;
}

export interface Rfc2217Server {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** What this server agrees to on its side (WILL) and on the client's (DO). */
const OURS = new Set<number>([OPTION.comPort, OPTION.binary, OPTION.sga]);
const THEIRS = new Set<number>([OPTION.comPort, OPTION.binary, OPTION.sga]);

export async function serveRfc2217(settings: Rfc2217Settings): Promise<Rfc2217Server> {
  const { host = '127.0.0.1', port = 0, peer } = settings;
  let client: net.Socket | null = null;
  let baudRate = 115_200;
  peer.onOutput((bytes) => {
    if (client && !client.destroyed && bytes.length) client.write(escapeData(bytes));
  });

  const server = net.createServer((socket) => {
    socket.on('error', () => { /* a vanished client is a closed one */ });
    if (client) {
      // Busy, like a locked serial port: say so and hang up. What the client sent meanwhile is
      // read and dropped, or its FIN would wait behind it and the socket never close.
      socket.resume();
      socket.end('hilt emulator: this board already has a client\r\n');
      return;
    }
    client = socket;
    socket.setNoDelay(true);
    const session = new Session(socket, peer, () => baudRate, (b) => { baudRate = b; });
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.once('close', () => {
      if (client !== socket) return;
      client = null;
      session.hangUp();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => { server.off('error', reject); resolve(); });
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      client?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One client's connection: its Telnet state and the lines it set. */
class Session {
  private readonly parser = new TelnetParser();
  private readonly ours = new Map<number, boolean>();
  private readonly theirs = new Map<number, boolean>();
  private lines = { dtr: true, rts: true };
  private dataSize = 8;
  private parity = PARITY_NONE;
  private stopSize = STOP_BITS_ONE;

  constructor(
    private readonly socket: net.Socket,
    private readonly peer: UartPeer,
    private readonly baud: () => number,
    private readonly setBaud: (b: number) => void,
  ) {
    // Opening a serial port raises both lines: on a DevKitC that leaves the chip running.
    peer.setLines({ ...this.lines });
    // Offered at once, as ser2net does, so a client that only answers still ends up in RFC 2217 mode.
    this.offer(this.theirs, DO, OPTION.comPort);
    for (const option of [OPTION.binary, OPTION.sga]) {
      this.offer(this.ours, WILL, option);
      this.offer(this.theirs, DO, option);
    }
  }

  receive(chunk: Buffer): void {
    for (const event of this.parser.push(chunk)) {
      if (event.type === 'data') this.peer.input(event.bytes);
      else if (event.type === 'negotiation') this.negotiate(event.verb, event.option);
      else if (event.type === 'subnegotiation' && event.option === OPTION.comPort && event.payload.length > 0) {
        this.command(event.payload[0]!, event.payload.subarray(1));
      }
    }
  }

  /** The client left: the port closes and drops both lines, as HUPCL does. */
  hangUp(): void {
    this.peer.setLines({ dtr: false, rts: false });
  }

  private send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  private offer(states: Map<number, boolean>, verb: Verb, option: number): void {
    states.set(option, true);
    this.send(negotiation(verb, option));
  }

  /** Answers a request only when it changes the option's state (RFC 1143 in short). */
  private negotiate(verb: Verb, option: number): void {
    const forUs = verb === DO || verb === DONT;
    const states = forUs ? this.ours : this.theirs;
    const [yes, no] = forUs ? [WILL, WONT] as const : [DO, DONT] as const;
    const on = states.get(option) ?? false;
    if (verb === DO || verb === WILL) {
      if (!(forUs ? OURS : THEIRS).has(option)) return this.send(negotiation(no, option));
      if (!on) this.send(negotiation(yes, option));
      states.set(option, true);
    } else {
      if (on) this.send(negotiation(no, option));
      states.set(option, false);
    }
  }

  private answer(code: number, value: Buffer | readonly number[]): void {
    this.send(comPortCommand(code + SERVER_OFFSET, value));
  }

  private command(code: number, value: Buffer): void {
    const byte = value[0] ?? 0;
    switch (code) {
      case COM.signature:
        return this.answer(code, Buffer.from('hilt emulator'));
      case COM.setBaudRate: {
        const asked = value.length >= 4 ? value.readUInt32BE(0) : 0;
        if (asked !== 0) {
          this.setBaud(asked);
          this.peer.setBaudRate(asked);
        }
        return this.answer(code, baudBytes(this.baud()));
      }
      case COM.setDataSize:
        if (byte) this.dataSize = byte;
        return this.answer(code, [this.dataSize]);
      case COM.setParity:
        if (byte) this.parity = byte;
        return this.answer(code, [this.parity]);
      case COM.setStopSize:
        if (byte) this.stopSize = byte;
        return this.answer(code, [this.stopSize]);
      case COM.setControl:
        return this.answer(code, [this.control(byte)]);
      case COM.notifyLineState:
        return this.answer(code, [0]);
      case COM.notifyModemState:
        return this.answer(code, [0]);
      case COM.setLineStateMask:
      case COM.setModemStateMask:
        return this.answer(code, [byte]);
      case COM.purgeData:
        this.peer.purge?.();
        return this.answer(code, [byte]);
      default:
        // FLOWCONTROL-SUSPEND/RESUME take no answer (and a board's UART has no flow control);
        // unknown codes get none either.
        return;
    }
  }

  /** Applies a SET-CONTROL value; returns the value that says what is now in effect. */
  private control(value: number): number {
    switch (value) {
      case CONTROL.dtrOn:
      case CONTROL.dtrOff:
        this.lines = { ...this.lines, dtr: value === CONTROL.dtrOn };
        this.peer.setLines({ ...this.lines });
        return value;
      case CONTROL.rtsOn:
      case CONTROL.rtsOff:
        this.lines = { ...this.lines, rts: value === CONTROL.rtsOn };
        this.peer.setLines({ ...this.lines });
        return value;
      case CONTROL.requestDtr:
        return this.lines.dtr ? CONTROL.dtrOn : CONTROL.dtrOff;
      case CONTROL.requestRts:
        return this.lines.rts ? CONTROL.rtsOn : CONTROL.rtsOff;
      case CONTROL.requestBreak:
        return CONTROL.breakOff;
      case CONTROL.requestFlow:
      case 2:
      case 3:
        // Only "no flow control" exists here: the answer says what is in effect.
        return CONTROL.noFlowControl;
      default:
        return value;
    }
  }
}
