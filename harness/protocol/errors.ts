/**
 * The error a command is refused with. Its code goes on the wire in an `err` reply, so the set is
 * closed: a new code is a protocol change.
 */

export type ErrCode = 'bad_args' | 'unknown_command' | 'busy' | 'too_long' | 'no_slot' | 'internal';

export const ERR_CODES: readonly ErrCode[] = ['bad_args', 'unknown_command', 'busy', 'too_long', 'no_slot', 'internal'];

export class ProtocolError extends Error {
  constructor(message: string, readonly code: ErrCode) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * Text from the other end made fit for a one-line message: control characters (line breaks,
 * terminal escapes, NUL) and the Unicode line separators become JSON-style escapes. It lives here,
 * where the emulator can use it too (this folder depends on nothing of hilt's); harness/errors.ts
 * passes it on to the rest of the harness.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * A value quoted for an error message. Capped, because the value may be a kilobyte of base64 and
 * the message travels back in a one-line reply that people read; escaped, because it may hold
 * the very control character it is refused for.
 */
export function quote(value: string, max = 40): string {
  const shown = value.length > max ? `${value.slice(0, max - 3)}...` : value;
  return `'${printable(shown)}'`;
}
