/**
 * Decoding a command's `key=value` arguments on the device side. Each helper either returns a
 * typed value or throws a `bad_args` ProtocolError whose message names the key, the form it
 * expects and what it got, so the `err` reply tells the scenario author what to fix.
 *
 * Strict on purpose: the device under test is judged by how it reacts to exact inputs, so a value
 * a lenient parser would quietly reinterpret (`0x10`, `yes`, base64 with junk in it) is refused.
 */
import { ProtocolError, quote } from './errors.ts';

export type Args = Readonly<Record<string, string>>;

function bad(message: string): ProtocolError {
  return new ProtocolError(message, 'bad_args');
}

/** The raw value, or undefined when absent (own keys only: `constructor` is not an argument). */
function raw(args: Args, key: string): string | undefined {
  return Object.hasOwn(args, key) ? args[key] : undefined;
}

function required(key: string, form: string): ProtocolError {
  return bad(`${key}: missing, expected ${key}=${form}`);
}

export function argString(args: Args, key: string, opts: { default?: string } = {}): string {
  const value = raw(args, key) ?? opts.default;
  if (value === undefined) throw required(key, '<text>');
  return value;
}

/** One spelling per number: a leading zero is octal to C's strtol(s, 0), and -0 is 0. */
const DECIMAL = /^(?:0|-?[1-9][0-9]*)$/;

/** A decimal integer (no sign but `-`, no leading zero, no hex, no exponent, no fraction), within min..max. */
export function argInt(args: Args, key: string, opts: { min?: number; max?: number; default?: number } = {}): number {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = opts;
  const range = `an integer ${min}..${max}`;
  const value = raw(args, key);
  if (value === undefined) {
    if (opts.default !== undefined) return opts.default;
    throw required(key, `<${range}>`);
  }
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`${key}: expected ${range}, got ${quote(value)}`);
  return n;
}

/** `0` or `1`, the protocol's only spelling of a boolean. */
export function argBool(args: Args, key: string, fallback?: boolean): boolean {
  const value = raw(args, key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw required(key, '0|1');
  }
  if (value !== '0' && value !== '1') throw bad(`${key}: expected 0 or 1, got ${quote(value)}`);
  return value === '1';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Standard, padded base64. Buffer.from(..., 'base64') accepts almost anything (it skips foreign
 * characters, accepts the URL alphabet, missing padding and stray bits after the last byte), so
 * a host bug would become silently wrong bytes on the device; here it is an error. A value can
 * never be empty, so "no bytes" is said by leaving the key out, where `fallback` allows it.
 */
export function argBase64(args: Args, key: string, fallback?: Buffer): Buffer {
  const value = raw(args, key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw required(key, '<base64>');
  }
  if (!BASE64.test(value)) {
    throw bad(`${key}: expected standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters), got ${quote(value)}`);
  }
  const bytes = Buffer.from(value, 'base64');
  // The regex admits a last character whose unused low bits are set; those bits would be dropped.
  if (bytes.toString('base64') !== value) throw bad(`${key}: base64 ends in non-zero padding bits, got ${quote(value.slice(-4))}`);
  return bytes;
}

/** A comma-separated list of non-empty items. */
export function argList(args: Args, key: string, fallback?: string[]): string[] {
  const value = raw(args, key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw required(key, '<item>[,<item>...]');
  }
  const items = value.split(',');
  if (items.some((item) => item === '')) throw bad(`${key}: expected a comma-separated list without empty items, got ${quote(value)}`);
  return items;
}

export function argEnum<T extends string>(args: Args, key: string, values: readonly T[], fallback?: T): T {
  const value = raw(args, key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw required(key, values.join('|'));
  }
  if (!(values as readonly string[]).includes(value)) throw bad(`${key}: expected one of ${values.join('|')}, got ${quote(value)}`);
  return value as T;
}

/** Most parts one transfer may have; bounds what a device must buffer for one slot. */
export const MAX_PARTS = 1000;

const PART = /^([1-9][0-9]{0,3})\/([1-9][0-9]{0,3})$/;

/** `i/n`: part i of n, 1 <= i <= n <= MAX_PARTS. */
export function argPart(args: Args, key = 'part', fallback = '1/1'): { index: number; count: number } {
  const value = raw(args, key) ?? fallback;
  const m = PART.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index > count || count > MAX_PARTS) {
    throw bad(`${key}: expected i/n with 1 <= i <= n <= ${MAX_PARTS}, got ${quote(value)}`);
  }
  return { index, count };
}

/**
 * Refuses keys a command does not take. Optional for a device, but it turns a misspelt argument
 * (`skip_cm=1`) into an error instead of a default silently used.
 */
export function checkArgKeys(args: Args, command: string, known: readonly string[]): void {
  const unknown = Object.keys(args).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    const takes = known.length > 0 ? `takes ${known.join(', ')}` : 'takes no arguments';
    throw bad(`${command}: unknown argument ${unknown.map((k) => quote(k)).join(', ')} (${command} ${takes})`);
  }
}
