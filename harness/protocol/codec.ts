/**
 * Agent protocol v1 on the wire: encoding and parsing of every line either side sends. The host
 * (harness) encodes commands and parses device lines; a device (the emulator) parses commands and
 * encodes replies and events. Both use this one file, so they cannot drift apart. docs/protocol.md
 * is the written spec.
 */
import type { Line } from './lines.ts';
import { ProtocolError, printable, quote, type ErrCode } from './errors.ts';

export { ProtocolError, ERR_CODES, type ErrCode } from './errors.ts';
export {
  argBase64, argBool, argEnum, argInt, argList, argPart, argString, checkArgKeys, MAX_PARTS, type Args,
} from './args.ts';

export const PROTO_VERSION = 1;
/** Longest host-to-device line in bytes, not counting its line ending. */
export const MAX_HOST_LINE = 1024;
export const PREFIX = '@hil ';

export const COMMANDS: readonly string[] = [
  'hello', 'reset',
  'time.set', 'time.clear',
  'store.put', 'store.del', 'store.list',
  'heap.stats', 'heap.reserve', 'heap.release',
  'tls.connect', 'tls.close',
  'mqtt.connect', 'mqtt.publish', 'mqtt.subscribe', 'mqtt.disconnect',
];

export const MAX_ID = 2 ** 31 - 1;

export type ArgValue = string | number | boolean | readonly string[];

export interface HostCommand {
  id: number;
  command: string;
  /** Raw values by key, in a prototype-free object; decode with the arg* helpers. */
  args: Record<string, string>;
}

export type ParsedHostLine =
  | { ok: true; command: HostCommand }
  | { ok: false; id: number | null; code: ErrCode; message: string };

export type DeviceLine =
  | { kind: 'reply'; id: number; status: 'ok' | 'err'; body: Record<string, unknown> }
  | { kind: 'event'; name: string; body: Record<string, unknown> }
  | { kind: 'console'; text: string }
  | { kind: 'garbled'; text: string; problem: string };

const NAME = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;
const KEY = /^[a-z_][a-z0-9_]*$/;
/** Canonical decimal: no sign, no leading zero, at most 10 digits (2^31-1 has 10). */
const ID = /^[1-9][0-9]{0,9}$/;
/** Separates tokens; anything else a value may hold, except control characters (one is `\r`). */
const UNSAFE = /[\s\p{Cc}]/u;

function validId(token: string): number | null {
  if (!ID.test(token)) return null;
  const id = Number(token);
  return id <= MAX_ID ? id : null;
}

function isId(id: number): boolean {
  return Number.isInteger(id) && id >= 1 && id <= MAX_ID;
}

// ---------------------------------------------------------------------------------------------
// Host to device

function encodeValue(key: string, value: ArgValue): string {
  const bad = (why: string) => new ProtocolError(`${key}: ${why}`, 'bad_args');
  let text: string;
  if (typeof value === 'boolean') text = value ? '1' : '0';
  else if (typeof value === 'number') {
    // String(1e21) is "1e+21": a form no device parses as a number.
    if (!Number.isFinite(value) || /e/i.test(String(value))) throw bad(`${value} has no plain decimal form`);
    text = String(value);
  } else if (typeof value === 'string') text = value;
  else {
    const item = value.find((v) => v.includes(','));
    if (item !== undefined) throw bad(`list item ${quote(item)} contains a comma, the list separator`);
    if (value.some((v) => v === '')) throw bad('list has an empty item');
    text = value.join(',');
  }
  if (text === '') throw bad('empty value (leave the argument out instead)');
  if (UNSAFE.test(text)) throw bad(`value ${quote(text)} contains whitespace or a control character; send binary data as base64`);
  return text;
}

/**
 * One command line, without its line ending. Arguments go out in the object's key order;
 * undefined and null ones are left out, which is how a caller says "use the device's default".
 */
export function encodeCommand(id: number, command: string, args: Record<string, ArgValue | undefined | null> = {}): string {
  if (!isId(id)) throw new ProtocolError(`id ${id}: expected an integer 1..${MAX_ID}`, 'bad_args');
  if (!NAME.test(command)) throw new ProtocolError(`command ${quote(command)}: expected a dotted lower-case name like tls.connect`, 'bad_args');
  const tokens = [`${PREFIX}${id}`, command];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    if (!KEY.test(key)) throw new ProtocolError(`argument ${quote(key)}: expected a key of a-z, 0-9 and _ not starting with a digit`, 'bad_args');
    tokens.push(`${key}=${encodeValue(key, value)}`);
  }
  const line = tokens.join(' ');
  const bytes = Buffer.byteLength(line);
  if (bytes > MAX_HOST_LINE) {
    throw new ProtocolError(`${command}: line is ${bytes} bytes, over the ${MAX_HOST_LINE}-byte limit; send large data in parts`, 'too_long');
  }
  return line;
}

/** The id a line starts with, if it can be read; lets a refused line still get its reply. */
function leadingId(rest: string): number | null {
  const token = /^([^ ]*)/.exec(rest)?.[1] ?? '';
  return validId(token);
}

/**
 * A line as a device reads it. null: not a protocol line, so console input the device ignores.
 * Otherwise the command, or why it is refused (with the id to reply to, when there is one; a line
 * without a readable id cannot be answered).
 */
export function parseHostLine(line: Line | string): ParsedHostLine | null {
  const text = typeof line === 'string' ? line : line.text;
  if (!text.startsWith(PREFIX)) return null;
  const rest = text.slice(PREFIX.length);
  const fail = (id: number | null, code: ErrCode, message: string): ParsedHostLine => ({ ok: false, id, code, message });

  const bytes = Buffer.byteLength(text);
  if ((typeof line !== 'string' && line.truncated) || bytes > MAX_HOST_LINE) {
    const size = typeof line !== 'string' && line.truncated ? `longer than ${bytes}` : `${bytes}`;
    return fail(leadingId(rest), 'too_long', `line is ${size} bytes, over the ${MAX_HOST_LINE}-byte limit; send large data in parts (part=i/n)`);
  }

  const tokens = rest.split(/ +/).filter((t) => t !== '');
  const [idToken = '', command, ...argTokens] = tokens;
  const id = validId(idToken);
  if (id === null) return fail(null, 'bad_args', `id ${quote(idToken)}: expected a decimal integer 1..${MAX_ID} after '@hil'`);
  if (command === undefined) return fail(id, 'bad_args', `no command after id ${id}`);
  if (!COMMANDS.includes(command)) return fail(id, 'unknown_command', `unknown command ${quote(command)}`);

  const args: Record<string, string> = Object.create(null);
  for (const token of argTokens) {
    const eq = token.indexOf('=');
    const key = eq === -1 ? token : token.slice(0, eq);
    const value = eq === -1 ? '' : token.slice(eq + 1);
    if (eq === -1) return fail(id, 'bad_args', `argument ${quote(token)}: expected key=value`);
    if (!KEY.test(key)) return fail(id, 'bad_args', `argument ${quote(token)}: key must be a-z, 0-9 and _, not starting with a digit`);
    if (value === '') return fail(id, 'bad_args', `argument ${quote(token)}: empty value`);
    if (UNSAFE.test(value)) return fail(id, 'bad_args', `argument ${quote(token)}: value contains a control character`);
    if (Object.hasOwn(args, key)) return fail(id, 'bad_args', `argument ${quote(key)} given twice`);
    args[key] = value;
  }
  return { ok: true, command: { id, command, args } };
}

// ---------------------------------------------------------------------------------------------
// Device to host

function json(body: object, what: string): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ProtocolError(`${what}: body must be a JSON object`, 'internal');
  }
  // JSON.stringify without indentation escapes every newline, so the body stays on one line.
  return JSON.stringify(body);
}

export function encodeReply(id: number, status: 'ok' | 'err', body: object): string {
  if (!isId(id)) throw new ProtocolError(`reply id ${id}: expected an integer 1..${MAX_ID}`, 'internal');
  if (status !== 'ok' && status !== 'err') throw new ProtocolError(`reply status ${quote(String(status))}: expected ok or err`, 'internal');
  return `${PREFIX}${id} ${status} ${json(body, `reply ${id}`)}`;
}

export function encodeEvent(name: string, body: object): string {
  if (!NAME.test(name)) throw new ProtocolError(`event ${quote(name)}: expected a dotted lower-case name`, 'internal');
  return `${PREFIX}* ${name} ${json(body, `event ${name}`)}`;
}

/** The body of an `err` reply. The message is flattened to one line, as every reply must be read. */
export function errBody(code: ErrCode, message: string): { code: ErrCode; message: string } {
  return { code, message: message.replace(/\s+/g, ' ').trim() };
}

/**
 * A line as the harness reads it. Anything not starting with the prefix is console text, kept
 * verbatim. A prefixed line that does not parse is `garbled`, never dropped and never guessed at:
 * it is a firmware bug the report should show.
 */
export function parseDeviceLine(line: Line | string): DeviceLine {
  const text = typeof line === 'string' ? line : line.text;
  if (!text.startsWith(PREFIX)) return { kind: 'console', text };
  const garbled = (problem: string): DeviceLine => ({ kind: 'garbled', text, problem });
  if (typeof line !== 'string' && line.truncated) {
    return garbled(`protocol line cut at ${Buffer.byteLength(text)} bytes (the line limit); its JSON is incomplete`);
  }

  const m = /^([^ ]*) *([^ ]*) *(.*)$/.exec(text.slice(PREFIX.length));
  const [, head = '', word = '', rest = ''] = m ?? [];
  const parseBody = (): Record<string, unknown> | string => {
    if (rest.trim() === '') return `no JSON body after ${quote(word)}`;
    let body: unknown;
    try {
      body = JSON.parse(rest);
    } catch (err) {
      // JSON.parse quotes the text around the mistake, control characters and all.
      return `body is not JSON: ${printable((err as Error).message)}`;
    }
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
    return `body is ${body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`}, expected a JSON object`;
  };

  if (head === '*') {
    if (!NAME.test(word)) return garbled(`event name ${quote(word)}: expected a dotted lower-case name`);
    const body = parseBody();
    return typeof body === 'string' ? garbled(body) : { kind: 'event', name: word, body };
  }
  const id = validId(head);
  if (id === null) return garbled(`id ${quote(head)}: expected 1..${MAX_ID}, or * for an event`);
  if (word !== 'ok' && word !== 'err') return garbled(`status ${quote(word)}: expected ok or err`);
  const body = parseBody();
  if (typeof body === 'string') return garbled(body);
  if (word === 'err' && (typeof body.code !== 'string' || typeof body.message !== 'string')) {
    return garbled('err reply without a string code and message');
  }
  return { kind: 'reply', id, status: word, body };
}
