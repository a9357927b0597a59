/**
 * A device that misbehaves on command, behind a real pseudo-terminal: the fault catalogue's board.
 *
 * socat links two ptys; the harness opens one (`serial:<path>?reset=none`, as it would a USB
 * bridge) and this scripted agent holds the other. It answers like the test agent (hello and the
 * commands a run uses to prepare a scenario) until a test tells it to go silent, flood the console,
 * print garbage without newlines (a wrong baud rate), print an over-long line, panic, or
 * disappear (socat killed: the pty hangs up as an unplugged USB bridge does).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { within } from '../../harness/time.ts';
import { hasSocat, ptyToTcp } from '../transport/peers.ts';

export { hasSocat };
export const SOCAT_MISSING = 'socat is not installed: the fault device needs it for a pseudo-terminal (apt-get install socat)';

/** What the scripted agent says it is; enough for Device's hello check. */
export const HELLO = {
  proto: 1, agent: { name: 'fault-device', version: '0' },
  fw: { project: 'fault_device', version: '0.1', idf: 'v5.5', elf_sha256: null },
  chip: { model: 'ESP32', revision: 3, cores: 2, mac: '24:0a:c4:00:fa:17' },
  mbedtls: { version: '3.6.3', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false, ciphersuites: [] },
  heap: { free: 100_000, min_free: 90_000, largest: 60_000 },
  time: { epoch: 0, synced: false },
};

/** ESP-IDF v5.5's panic output (ESP32-FACTS), as a board prints it before it reboots or halts. */
export const GURU_MEDITATION = [
  "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
  '',
  'Core  0 register dump:',
  'PC      : 0x400d2f3c  PS      : 0x00060130  A0      : 0x800d3b1e  A1      : 0x3ffb5a40',
  'EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0  LEND    : 0x4000c2f6  LCOUNT  : 0xffffffff',
  '',
  'Backtrace: 0x400d2f39:0x3ffb5a40 0x400d3b1b:0x3ffb5a60 0x40088a6d:0x3ffb5a90',
  '',
  'ELF file SHA256: 0000000000000000',
  '',
  'Rebooting...',
];

/** Replies for the commands a run sends to bring a device to a known state. */
function replyTo(command: string): object {
  switch (command) {
    case 'hello': return HELLO;
    case 'heap.stats': return HELLO.heap;
    case 'time.set': return { epoch: 1_764_460_800, synced: true };
    case 'time.clear': return { epoch: 0, synced: false };
    case 'store.put': return { slot: 'x', bytes: 1, complete: true };
    case 'store.list': return { slots: [] };
    case 'store.del': return { slot: 'x' };
    case 'heap.release': return { free: HELLO.heap.free };
    case 'heap.reserve': return { reserved: 0, free: HELLO.heap.free };
    default: return {};
  }
}

export class FaultDevice extends EventEmitter {
  /** Every host line the agent received, in order. */
  readonly heard: string[] = [];
  private answering = true;
  private crashOn: string | null = null;
  private buffer = '';
  private floods = new Set<NodeJS.Timeout>();

  private constructor(
    /** The pty the harness opens. */
    readonly path: string,
    private readonly far: Socket,
    private readonly pty: Awaited<ReturnType<typeof ptyToTcp>>,
  ) {
    super();
    far.on('data', (chunk: Buffer) => this.onData(chunk));
    far.on('error', () => undefined);
  }

  /**
   * A pty with the agent on its far end, through socat to a TCP socket of this process (a second
   * pty with serialport on it stalled large bursts now and then under load). Check `hasSocat` first.
   */
  static async start(): Promise<FaultDevice> {
    const pty = await ptyToTcp(() => undefined);
    // socat connects before it starts its data loop, so this is at once.
    const far = await within(5_000, pty.far);
    if (far === 'timeout') {
      await pty.release();
      throw new Error('socat did not connect the pty to the fault device within 5 s');
    }
    return new FaultDevice(pty.path, far, pty);
  }

  /** The --target a user would give for this board. */
  get target(): string {
    return `serial:${this.path}?reset=none`;
  }

  /** Resolves with the first host line (from now on, or already heard) that matches. */
  waitHeard(pattern: RegExp, timeoutMs = 5_000): Promise<string> {
    const already = this.heard.find((l) => pattern.test(l));
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('heard', check); reject(new Error(`the fault device heard no ${pattern} within ${timeoutMs} ms`)); }, timeoutMs);
      const check = (line: string) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        this.off('heard', check);
        resolve(line);
      };
      this.on('heard', check);
    });
  }

  /** Stops answering: the firmware hung, or the agent is not running. Console output still goes. */
  silent(): void {
    this.answering = false;
  }

  /** Answers again, from the next command on. */
  answer(): void {
    this.answering = true;
  }

  /** Prints console lines as the firmware would (`\r\n`, as ESP-IDF ends them). */
  say(...lines: string[]): Promise<void> {
    return this.write(lines.map((l) => `${l}\r\n`).join(''));
  }

  /**
   * Floods the console with log lines at about `linesPerSecond`, until the returned stop() (or
   * close()). Lines are numbered so a test can tell which arrived.
   */
  flood(linesPerSecond: number, text = 'I (1234) chatty: a log line the firmware prints far too often'): { stop(): void; sent(): number } {
    let sent = 0;
    const perTick = Math.max(1, Math.round(linesPerSecond / 100));
    const timer = setInterval(() => {
      let chunk = '';
      for (let i = 0; i < perTick; i++) chunk += `${text} #${++sent}\r\n`;
      this.far.write(chunk);
    }, 10);
    this.floods.add(timer);
    return {
      stop: () => { clearInterval(timer); this.floods.delete(timer); },
      sent: () => sent,
    };
  }

  /**
   * `bytes` of what a UART at the wrong baud rate delivers: bytes with the high bit set and no
   * newline among them. Deterministic, so a failure reproduces.
   */
  garbage(bytes: number): Promise<void> {
    const noise = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) noise[i] = 0x80 | ((i * 37 + 11) & 0x7f);
    return this.write(noise);
  }

  /** One console line of `bytes` bytes (then its newline): a hex dump, a runaway log. */
  overlong(bytes: number): Promise<void> {
    return this.write(`${'x'.repeat(bytes)}\r\n`);
  }

  /** Prints a Guru Meditation panic and stops answering, as a crashed board that halts does. */
  async panic(): Promise<void> {
    this.answering = false;
    await this.say(...GURU_MEDITATION);
  }

  /** Panics instead of answering the next `command`: a crash inside it. */
  panicOn(command: string): void {
    this.crashOn = command;
  }

  /** The board is gone: socat is killed, so the harness's pty hangs up. */
  async disappear(): Promise<void> {
    this.stopFloods();
    this.pty.vanish();
    await this.pty.release();
  }

  async close(): Promise<void> {
    this.stopFloods();
    this.far.destroy();
    await this.pty.release();
  }

  private stopFloods(): void {
    for (const timer of this.floods) clearInterval(timer);
    this.floods.clear();
  }

  private write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.far.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer += chunk.toString('utf8');
    for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.heard.push(line);
      this.emit('heard', line);
      const m = /^@hil (\d+) (\S+)/.exec(line);
      if (m && m[2] === this.crashOn) {
        this.crashOn = null;
        void this.panic().catch(() => undefined);
      } else if (m && this.answering) this.far.write(`@hil ${m[1]} ok ${JSON.stringify(replyTo(m[2]!))}\r\n`);
    }
  }
}
