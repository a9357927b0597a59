/**
 * Errors that reach a user. Each carries the exit status the CLI must return and a message that
 * names what went wrong, where (file, port, value) and what to do about it, on one line.
 */
import { printable } from './protocol/errors.ts';

export { printable };

/** Exit statuses shared by every hilt command. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  /** Stopped by Ctrl-C (128 + SIGINT), as shells expect. */
  interrupted: 130,
} as const;

/** HiltError's brand, for `instanceof HiltError` across copies (brandAcrossCopies below says why). */
const HILT_ERROR = Symbol.for('hilt.error.HiltError');

export class HiltError extends Error {
  /**
   * The command line's main.ts loads each command with import(); where main.ts itself was loaded
   * through require (mocha loads test files that way), the command's errors come from the other
   * copy of this module. Subclasses inherit this check but get the ordinary one.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== HiltError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[HILT_ERROR] === true;
  }

  constructor(
    message: string,
    readonly exitCode: number = ExitCode.usage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HiltError';
  }
}
Object.defineProperty(HiltError.prototype, HILT_ERROR, { value: true });

/**
 * Makes `instanceof cls` hold for instances made by any copy of hilt's modules in this process.
 * A scenario file in a CommonJS project loads a second copy of the harness (tsx's require hook,
 * docs/architecture.md), so an error a scenario's context throws is of that copy's class, and the
 * runner's `instanceof DeviceError` would take a device error for an assertion. Each branded class
 * (subclasses too) carries a registered symbol on its prototype and checks for it.
 */
export function brandAcrossCopies(cls: abstract new (...args: never[]) => Error, name: string): void {
  const brand = Symbol.for(`hilt.error.${name}`);
  Object.defineProperty(cls.prototype, brand, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (value: unknown) => typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true,
  });
}

/** Bad usage or configuration: a value, a file or a port the user can fix (exit 2). */
export class UsageError extends HiltError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
    this.name = 'UsageError';
  }
}

/** The short system reason of an fs/net error ("EACCES", "EADDRINUSE"), or its message. */
export function errnoOf(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

/** No path, host or target holds one: it is a bad paste, and it would break a one-line message. */
export function hasControlCharacter(text: string): boolean {
  return /[\p{Cc}\u2028\u2029]/u.test(text);
}

/** A value in double quotes for a message; unlike JSON.stringify alone, DEL and C1 codes are escaped too. */
export function quoted(text: string): string {
  return printable(JSON.stringify(text));
}
