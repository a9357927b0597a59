/**
 * A serial port on another machine, reached over RFC 2217 (Telnet's COM-PORT option): ser2net,
 * esptool's RFC 2217 server, a labgrid exporter, or `hilt emulate --rfc2217`. Bytes pass as on a
 * serial port; the line rate, 8N1, the DTR/RTS lines (reset and download mode) and purges are
 * commands on the same connection (harness/wire/rfc2217.ts has the byte format).
 *
 * pyserial's rfc2217.py is the reference for behaviour: open asks for the COM-PORT option and
 * waits for the server's DO, sends the line settings together and waits for every answer, and
 * waits for the answer to each SET-CONTROL unless told to ignore them (`ign_set_control`, for
 * servers that answer wrongly or not at all). Every wait here is bounded (ackTimeoutMs, 3 s like
 * pyserial's network timeout). Unlike pyserial, open() neither touches the modem lines nor purges:
 * the board is left exactly as the server has it, and a purge is asked for only when wanted.
 */
import net from 'node:net';
import { errnoOf } from '../errors.ts';
import {
  COM, CONTROL, DO, DONT, OPTION, PARITY_NONE, PURGE, SERVER_OFFSET, STOP_BITS_ONE, TelnetParser, WILL, WONT,
  baudBytes, comPortCommand, commandName, escapeData, negotiation, type PurgeWhich, type TelnetEvent, type Verb,
} from '../wire/rfc2217.ts';
import { BaseTransport, settleWithin } from './base.ts';
import { CONNECT_FAILURES } from './tcp.ts';
import { TransportError, type ModemLines } from './transport.ts';

export interface Rfc2217Options {
  host: string;
  port: number;
  /** The line rate asked for at open (default 115200). */
  baudRate?: number;
  /** Do not wait for answers to SET-CONTROL (pyserial's ign_set_control). */
  ignoreSetControl?: boolean;
  /** How long connecting, negotiating and setting the line may take together (default 10 s). */
  openTimeoutMs?: number;
  /** How long the server may take to answer one command (default 3 s, as pyserial). */
  ackTimeoutMs?: number;
}

/** Options hilt agrees to on its side (we WILL) and on the server's (they WILL). */
const OURS = new Set<number>([OPTION.comPort, OPTION.binary, OPTION.sga]);
const THEIRS = new Set<number>([OPTION.comPort, OPTION.binary, OPTION.sga]);

type OptionState = 'off' | 'requested' | 'on';

interface Waiter {
  resolve(value: Buffer): void;
  reject(err: TransportError): void;
}

export class Rfc2217Transport extends BaseTransport {
  readonly kind = 'rfc2217' as const;
  readonly host: string;
  readonly port: number;
  readonly ignoreSetControl: boolean;
  private rate: number;
  private readonly ackTimeoutMs: number;
  private readonly where: string;
  private socket: net.Socket | null = null;
  private readonly parser = new TelnetParser();
  private readonly ours = new Map<number, OptionState>();
  private readonly theirs = new Map<number, OptionState>();
  /** Wakes open() when the COM-PORT option is agreed or refused. */
  private onNegotiation: (() => void) | null = null;
  /** Bytes of plain data seen before any Telnet command: a raw TCP port says so. */
  private plainBytes = 0;
  private telnetSeen = false;
  /** The end of what the server sent as text while opening (ser2net says "Port already in use"). */
  private openingText = '';
  /** Answers awaited, by answer code, oldest first. */
  private readonly waiting = new Map<number, Waiter[]>();
  /** The lines as last set (null: not known, before the first setSignals or after a failed one). */
  private lines: ModemLines | null = null;
  /** Line commands run one after another, so two callers' commands never interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: Rfc2217Options) {
    super(options.openTimeoutMs ?? 10_000);
    this.host = options.host;
    this.port = options.port;
    this.rate = options.baudRate ?? 115_200;
    this.ignoreSetControl = options.ignoreSetControl ?? false;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 3_000;
    this.where = `rfc2217://${net.isIPv6(this.host) ? `[${this.host}]` : this.host}:${this.port}`;
    this.capabilities.lineControl = true;
    this.capabilities.baudRate = true;
  }

  get description(): string {
    return `${this.where} at ${this.rate} baud`;
  }

  get baudRate(): number {
    return this.rate;
  }

  // --- opening ----------------------------------------------------------------------------

  protected async doOpen(signal: AbortSignal): Promise<void> {
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    const step = <T>(work: Promise<T>) => Promise.race([work, aborted]);

    this.socket = await step(this.connect(signal));
    for (const option of OURS) this.ask(this.ours, option, WILL);
    for (const option of THEIRS) if (option !== OPTION.comPort) this.ask(this.theirs, option, DO);
    await step(this.comPortAgreed());
    // All four settings at once, then every answer (pyserial does the same: one round trip).
    const settings: Array<[number, Buffer, string]> = [
      [COM.setBaudRate, baudBytes(this.rate), `${this.rate} baud`],
      [COM.setDataSize, Buffer.from([8]), '8 data bits'],
      [COM.setParity, Buffer.from([PARITY_NONE]), 'no parity'],
      [COM.setStopSize, Buffer.from([STOP_BITS_ONE]), '1 stop bit'],
    ];
    await step(Promise.all(settings.map(([code, value, what]) => this.command(code, value, what))));
    await step(this.setControl(CONTROL.noFlowControl));
  }

  private connect(signal: AbortSignal): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      this.socket = socket;
      const onError = (err: Error) => {
        socket.destroy();
        const code = errnoOf(err);
        const explain = CONNECT_FAILURES[code];
        reject(new TransportError(explain ? explain(this.where) : `cannot connect to ${this.where} (${code}): check the host and port`, { cause: err }));
      };
      signal.addEventListener('abort', () => socket.destroy(), { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        // A console line or a SET-CONTROL is a few bytes: Nagle would hold each one back.
        socket.setNoDelay(true);
        this.watch(socket);
        resolve(socket);
      });
    });
  }

  private watch(socket: net.Socket): void {
    let why: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.parser.push(chunk)) this.handle(event);
    });
    socket.on('end', () => { why ??= 'the server closed the connection'; });
    socket.on('error', (err) => { why ??= `connection failed (${errnoOf(err)})`; });
    socket.once('close', () => {
      const reason = `${this.where}: ${why ?? 'connection closed'}`;
      this.failWaiting(this.isOpen ? new TransportError(`${reason} before it answered`) : this.closedWhileOpening());
      this.onNegotiation?.();
      this.lost(reason);
    });
  }

  /** Resolves once the server said DO COM-PORT; rejects when it refused, left, or never negotiated. */
  private comPortAgreed(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (timedOut: boolean) => {
        const state = this.ours.get(OPTION.comPort);
        const gone = !this.socket || this.socket.destroyed;
        if (state === 'requested' && !gone && !timedOut) return;
        clearTimeout(timer);
        this.onNegotiation = null;
        if (state === 'on') return resolve();
        if (gone) return reject(this.closedWhileOpening());
        if (state === 'off') return reject(new TransportError(`${this.where} refused the COM-PORT option (DONT 44): it is a Telnet server without RFC 2217; in ser2net write accepter: telnet(rfc2217),tcp,PORT`));
        const plain = this.telnetSeen ? '' : this.plainBytes ? ` and sent ${this.plainBytes} bytes of plain data` : ' and sent nothing';
        reject(new TransportError(`${this.where} did not agree to the COM-PORT option within ${this.ackTimeoutMs} ms${plain}: it is not an RFC 2217 server (a raw TCP port? then use tcp:${this.where.slice('rfc2217://'.length)})`));
      };
      const timer = setTimeout(() => check(true), this.ackTimeoutMs);
      this.onNegotiation = () => check(false);
      check(false);
    });
  }

  /** The server hung up before the open was done: what it said, if anything, is the best clue. */
  private closedWhileOpening(): TransportError {
    const said = this.openingText.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(-100);
    if (!said) return new TransportError(`${this.where} closed the connection while opening: is it an RFC 2217 server, and is another client connected?`);
    const hint = /in use|already has a client|busy/i.test(said) ? 'another client holds the port' : 'see what the server said';
    return new TransportError(`${this.where} closed the connection while opening (it said ${JSON.stringify(said)}): ${hint}`);
  }

  // --- what the server says ------------------------------------------------------------------

  private handle(event: TelnetEvent): void {
    switch (event.type) {
      case 'data':
        if (!this.telnetSeen) this.plainBytes += event.bytes.length;
        if (!this.isOpen) this.openingText = (this.openingText + event.bytes.toString('latin1')).slice(-200);
        this.received(event.bytes);
        return;
      case 'negotiation':
        this.telnetSeen = true;
        this.negotiate(event.verb, event.option);
        this.onNegotiation?.();
        return;
      case 'subnegotiation':
        this.telnetSeen = true;
        if (event.option === OPTION.comPort && event.payload.length > 0) this.answer(event.payload[0]!, event.payload.subarray(1));
        return;
      case 'command':
        // NOP, BREAK, GA ...: RFC 2217 needs none of them.
        this.telnetSeen = true;
        return;
    }
  }

  /** RFC 1143's rule in short: answer a request only when it changes the option's state. */
  private negotiate(verb: Verb, option: number): void {
    const forUs = verb === DO || verb === DONT;
    const states = forUs ? this.ours : this.theirs;
    const supported = (forUs ? OURS : THEIRS).has(option);
    const [yes, no] = forUs ? [WILL, WONT] as const : [DO, DONT] as const;
    const state = states.get(option) ?? 'off';
    if (verb === DO || verb === WILL) {
      if (!supported) return this.reply(negotiation(no, option));
      if (state === 'off') this.reply(negotiation(yes, option));
      states.set(option, 'on');
    } else {
      if (state === 'on') this.reply(negotiation(no, option));
      states.set(option, 'off');
    }
  }

  private ask(states: Map<number, OptionState>, option: number, verb: Verb): void {
    // A server may offer first (ser2net sends DO COM-PORT as it accepts): then there is nothing to ask.
    if ((states.get(option) ?? 'off') !== 'off') return;
    states.set(option, 'requested');
    this.reply(negotiation(verb, option));
  }

  /** A negotiation sent without waiting: a connection that fails meanwhile is reported by 'close'. */
  private reply(bytes: Buffer): void {
    this.raw(bytes).catch(() => undefined);
  }

  /** A COM-PORT answer (code + 100) to the oldest command of its kind still waiting. */
  private answer(code: number, value: Buffer): void {
    if (code < SERVER_OFFSET) return;
    // Notifications (line and modem state) and answers nobody waits for any more (ignored
    // SET-CONTROL answers, or ones that came after their wait ended) are dropped.
    const queue = this.waiting.get(code);
    queue?.shift()?.resolve(Buffer.from(value));
  }

  private failWaiting(err: TransportError): void {
    for (const queue of this.waiting.values()) for (const waiter of queue.splice(0)) waiter.reject(err);
  }

  // --- commands -----------------------------------------------------------------------------

  private raw(bytes: Buffer): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      return Promise.reject(this.isOpen ? new TransportError(`${this.where} is not connected: the connection closed`) : this.closedWhileOpening());
    }
    return new Promise((resolve, reject) => {
      socket.write(bytes, (err) => {
        if (!err) return resolve();
        // A server that hangs up while we negotiate (ser2net turning a second client away) often
        // shows first as a failed write: that is the same refusal the 'close' would report.
        const code = errnoOf(err);
        const hungUp = code === 'EPIPE' || code === 'ECONNRESET';
        reject(hungUp && !this.isOpen ? this.closedWhileOpening() : new TransportError(`cannot write to ${this.where} (${code})`));
      });
    });
  }

  /**
   * Sends one COM-PORT command and waits for its answer, which must carry the value sent (the
   * server applied it); bounded by ackTimeoutMs.
   */
  private async command(code: number, value: Buffer, what: string): Promise<void> {
    const name = commandName(code, value);
    const answer = new Promise<Buffer>((resolve, reject) => {
      const queue = this.waiting.get(code + SERVER_OFFSET) ?? [];
      this.waiting.set(code + SERVER_OFFSET, queue);
      const waiter: Waiter = {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(waiter), 1);
        const hint = code === COM.setControl
          ? ': the server cannot set that line (ser2net serving a pseudo-terminal never answers); add ?ign_set_control=1 to go on without answers'
          : ': check that the server is an RFC 2217 server and that it is not stuck';
        reject(new TransportError(`${this.where} did not answer ${name} within ${this.ackTimeoutMs} ms${hint}`));
      }, this.ackTimeoutMs);
      queue.push(waiter);
    });
    answer.catch(() => undefined);
    await this.raw(comPortCommand(code, value));
    const got = await answer;
    if (code === COM.purgeData || got.equals(value)) return;
    const said = code === COM.setControl ? commandName(code, got)
      : `${commandName(code)} with ${code === COM.setBaudRate && got.length === 4 ? `${got.readUInt32BE(0)} baud` : `value ${[...got].join(' ') || 'none'}`}`;
    const hint = code === COM.setControl ? ' (a server that answers SET-CONTROL wrongly: add ?ign_set_control=1)' : '';
    throw new TransportError(`${this.where} did not take ${what}: it answered ${said}${hint}`);
  }

  private async setControl(value: number): Promise<void> {
    const what = commandName(COM.setControl, Buffer.from([value]));
    if (!this.ignoreSetControl) return this.command(COM.setControl, Buffer.from([value]), what);
    await this.raw(comPortCommand(COM.setControl, [value]));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private ensureOpen(what: string): void {
    if (!this.isOpen) throw new TransportError(`cannot ${what} on ${this.description}: it is not open`);
  }

  /**
   * Both lines, as two SET-CONTROL commands (RFC 2217 has no command for both at once). DTR goes
   * first, as in esptool's classic sequence (D1 then R0), unless that would pass through "RTS
   * asserted, DTR not" (EN low on a DevKitC: a reset nobody asked for); then RTS goes first.
   * Lines known to be set already are not sent again.
   */
  setSignals(lines: ModemLines): Promise<void> {
    return this.serially(async () => {
      this.ensureOpen('set DTR/RTS');
      const before = this.lines;
      const dtr = () => this.setControl(lines.dtr ? CONTROL.dtrOn : CONTROL.dtrOff);
      const rts = () => this.setControl(lines.rts ? CONTROL.rtsOn : CONTROL.rtsOff);
      const rtsFirst = !lines.dtr && (before?.rts ?? true);
      const steps = (rtsFirst ? [rts, dtr] : [dtr, rts]).filter((step) => {
        if (!before) return true;
        return step === dtr ? before.dtr !== lines.dtr : before.rts !== lines.rts;
      });
      this.lines = null;
      for (const step of steps) await step();
      this.lines = { ...lines };
    });
  }

  setBaudRate(baudRate: number): Promise<void> {
    return this.serially(async () => {
      this.ensureOpen('change the baud rate');
      if (!Number.isInteger(baudRate) || baudRate < 1 || baudRate > 0xffffffff) {
        throw new TransportError(`cannot set ${baudRate} baud on ${this.description}: give a whole number of baud`);
      }
      await this.command(COM.setBaudRate, baudBytes(baudRate), `${baudRate} baud`);
      this.rate = baudRate;
    });
  }

  /** Asks the server to drop what its buffers hold (receive: bytes from the device not yet sent here). */
  purge(which: PurgeWhich = 'both'): Promise<void> {
    return this.serially(async () => {
      this.ensureOpen('purge');
      await this.command(COM.purgeData, Buffer.from([PURGE[which]]), `a purge (${which})`);
    });
  }

  // --- bytes ----------------------------------------------------------------------------------

  protected doWrite(data: Buffer): Promise<void> {
    return this.raw(escapeData(data));
  }

  /** The far UART takes 10 bit times a byte, as a local one does. */
  protected override writeBoundMs(bytes: number): number {
    return 10_000 + Math.ceil((bytes * 10 * 1000 * 2) / this.rate);
  }

  protected async doClose(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    // end() lets written bytes leave before the FIN; a server that never answers it is cut off.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end();
    if (await settleWithin(1_000, closed) === 'timeout') socket.destroy();
    await settleWithin(1_000, closed);
  }

  protected openTimeoutMessage(ms: number): string {
    return `${this.where} did not finish opening within ${ms} ms: check the host and port, and that the server answers RFC 2217 (Telnet COM-PORT)`;
  }
}
