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
 * A value quoted for an error message. Capped, because the value may be a kilobyte of base64 and
 * the message travels back in a one-line reply that people read.
 */
export function quote(value: string, max = 40): string {
  const shown = value.length > max ? `${value.slice(0, max - 3)}...` : value;
  return `'${shown}'`;
}
