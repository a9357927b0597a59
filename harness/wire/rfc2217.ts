/**
 * Telnet (RFC 854/855) with the COM-PORT-OPTION (RFC 2217): the byte format a remote serial port
 * speaks (ser2net, esptool's RFC 2217 server, labgrid exporters). Pure code shared by hilt's
 * client transport and the emulator's server; nothing here does I/O.
 *
 * On the wire: data bytes pass as they are except 0xFF (IAC), which is doubled; `IAC verb option`
 * negotiates an option; `IAC SB option ... IAC SE` carries a subnegotiation, in which 0xFF is
 * doubled too. A COM-PORT command is `IAC SB 44 code value IAC SE`; a server answers with
 * code + 100 and the value it applied.
 */

export const IAC = 0xff;
export const DONT = 0xfe;
export const DO = 0xfd;
export const WONT = 0xfc;
export const WILL = 0xfb;
export const SB = 0xfa;
export const SE = 0xf0;

export type Verb = typeof WILL | typeof WONT | typeof DO | typeof DONT;

/** Telnet options hilt negotiates. */
export const OPTION = { binary: 0, echo: 1, sga: 3, comPort: 44 } as const;

/** COM-PORT-OPTION command codes, client to server; the server's answer is code + SERVER_OFFSET. */
export const COM = {
  signature: 0,
  setBaudRate: 1,
  setDataSize: 2,
  setParity: 3,
  setStopSize: 4,
  setControl: 5,
  notifyLineState: 6,
  notifyModemState: 7,
  flowControlSuspend: 8,
  flowControlResume: 9,
  setLineStateMask: 10,
  setModemStateMask: 11,
  purgeData: 12,
} as const;
export const SERVER_OFFSET = 100;

/** SET-CONTROL values. */
export const CONTROL = {
  requestFlow: 0,
  noFlowControl: 1,
  requestBreak: 4,
  breakOn: 5,
  breakOff: 6,
  requestDtr: 7,
  dtrOn: 8,
  dtrOff: 9,
  requestRts: 10,
  rtsOn: 11,
  rtsOff: 12,
} as const;

export const PARITY_NONE = 1;
export const STOP_BITS_ONE = 1;
/** PURGE-DATA values: the server's receive buffer (bytes from the device), transmit, or both. */
export const PURGE = { receive: 1, transmit: 2, both: 3 } as const;
export type PurgeWhich = keyof typeof PURGE;

const COMMAND_NAMES: Record<number, string> = {
  0: 'SIGNATURE', 1: 'SET-BAUDRATE', 2: 'SET-DATASIZE', 3: 'SET-PARITY', 4: 'SET-STOPSIZE', 5: 'SET-CONTROL',
  6: 'NOTIFY-LINESTATE', 7: 'NOTIFY-MODEMSTATE', 8: 'FLOWCONTROL-SUSPEND', 9: 'FLOWCONTROL-RESUME',
  10: 'SET-LINESTATE-MASK', 11: 'SET-MODEMSTATE-MASK', 12: 'PURGE-DATA',
};
const CONTROL_NAMES: Record<number, string> = {
  0: 'flow control?', 1: 'no flow control', 4: 'BREAK?', 5: 'BREAK on', 6: 'BREAK off', 7: 'DTR?', 8: 'DTR on',
  9: 'DTR off', 10: 'RTS?', 11: 'RTS on', 12: 'RTS off',
};

/** A command's name for messages: "SET-CONTROL (DTR on)", "SET-BAUDRATE". */
export function commandName(code: number, value?: Buffer): string {
  const base = code >= SERVER_OFFSET ? code - SERVER_OFFSET : code;
  const name = COMMAND_NAMES[base] ?? `command ${code}`;
  if (base === COM.setControl && value?.length) return `${name} (${CONTROL_NAMES[value[0]!] ?? `value ${value[0]}`})`;
  return name;
}

/** Doubles every 0xFF so data cannot be taken for a Telnet command. */
export function escapeData(data: Buffer): Buffer {
  let count = 0;
  for (const byte of data) if (byte === IAC) count++;
  if (count === 0) return data;
  const out = Buffer.allocUnsafe(data.length + count);
  let j = 0;
  for (const byte of data) {
    out[j++] = byte;
    if (byte === IAC) out[j++] = IAC;
  }
  return out;
}

/** `IAC verb option`. */
export function negotiation(verb: Verb, option: number): Buffer {
  return Buffer.from([IAC, verb, option]);
}

/** `IAC SB 44 code value IAC SE`, the value's 0xFF bytes doubled. */
export function comPortCommand(code: number, value: Buffer | readonly number[] = []): Buffer {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return Buffer.concat([Buffer.from([IAC, SB, OPTION.comPort, code]), escapeData(bytes), Buffer.from([IAC, SE])]);
}

/** A baud rate as SET-BAUDRATE carries it: 4 bytes, big-endian. */
export function baudBytes(baudRate: number): Buffer {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(baudRate);
  return value;
}

export type TelnetEvent =
  | { type: 'data'; bytes: Buffer }
  | { type: 'negotiation'; verb: Verb; option: number }
  /** A subnegotiation: `option`, then its payload (0xFF unescaped). */
  | { type: 'subnegotiation'; option: number; payload: Buffer }
  /** Any other Telnet command (NOP, BREAK, ...): RFC 2217 uses none; kept so callers can ignore it knowingly. */
  | { type: 'command'; code: number };

/** Longest subnegotiation kept; COM-PORT's are a few bytes (a signature a few dozen). */
export const MAX_SUBNEGOTIATION = 1024;

type State = 'data' | 'iac' | 'verb' | 'sb-option' | 'sb' | 'sb-iac';

/**
 * Splits a Telnet byte stream into data and commands, across any chunking. A subnegotiation
 * longer than MAX_SUBNEGOTIATION is dropped (counted in `dropped`), so a peer that never sends
 * IAC SE costs a bounded amount of memory.
 */
export class TelnetParser {
  /** Subnegotiations dropped for length. */
  dropped = 0;
  private state: State = 'data';
  private verb: Verb = WILL;
  private option = 0;
  private sub: number[] = [];
  private overlong = false;

  push(chunk: Buffer): TelnetEvent[] {
    // The common case, plain data: no copy.
    if (this.state === 'data' && !chunk.includes(IAC)) return chunk.length ? [{ type: 'data', bytes: chunk }] : [];
    const events: TelnetEvent[] = [];
    // Runs of data are kept as slices of the chunk (flash images are full of 0xFF: no per-byte copy).
    let data: Buffer[] = [];
    const flush = () => {
      if (data.length) events.push({ type: 'data', bytes: data.length === 1 ? data[0]! : Buffer.concat(data) });
      data = [];
    };
    const IAC_BYTE = Buffer.from([IAC]);
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      switch (this.state) {
        case 'data': {
          const next = chunk.indexOf(IAC, i);
          const end = next === -1 ? chunk.length : next;
          if (end > i) data.push(chunk.subarray(i, end));
          if (next !== -1) this.state = 'iac';
          i = end;
          break;
        }
        case 'iac':
          if (byte === IAC) {
            data.push(IAC_BYTE);
            this.state = 'data';
          } else if (byte === WILL || byte === WONT || byte === DO || byte === DONT) {
            this.verb = byte;
            this.state = 'verb';
          } else if (byte === SB) {
            this.state = 'sb-option';
          } else {
            flush();
            events.push({ type: 'command', code: byte });
            this.state = 'data';
          }
          break;
        case 'verb':
          flush();
          events.push({ type: 'negotiation', verb: this.verb, option: byte });
          this.state = 'data';
          break;
        case 'sb-option':
          this.option = byte;
          this.sub = [];
          this.overlong = false;
          this.state = 'sb';
          break;
        case 'sb':
          if (byte === IAC) this.state = 'sb-iac';
          else this.keep(byte);
          break;
        case 'sb-iac':
          if (byte === IAC) {
            this.keep(IAC);
            this.state = 'sb';
          } else {
            // IAC SE ends it; any other command inside a subnegotiation is malformed, and
            // ending the subnegotiation there keeps the stream in step with the sender.
            flush();
            if (this.overlong) this.dropped++;
            else events.push({ type: 'subnegotiation', option: this.option, payload: Buffer.from(this.sub) });
            this.sub = [];
            this.state = 'data';
            if (byte !== SE) events.push({ type: 'command', code: byte });
          }
          break;
      }
    }
    flush();
    return events;
  }

  private keep(byte: number): void {
    if (this.sub.length >= MAX_SUBNEGOTIATION) this.overlong = true;
    else this.sub.push(byte);
  }
}
