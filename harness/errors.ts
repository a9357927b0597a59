/**
 * Errors that reach a user. Each carries the exit status the CLI must return and a message that
 * names what went wrong, where (file, port, value) and what to do about it, on one line.
 */

/** Exit statuses shared by every hilt command. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  /** Stopped by Ctrl-C (128 + SIGINT), as shells expect. */
  interrupted: 130,
} as const;

export class HiltError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.usage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HiltError';
  }
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

/** Line breaks, other control characters (terminal escapes, NUL, DEL) and the Unicode line separators. */
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/** No path, host or target holds one: it is a bad paste, and it would break a one-line message. */
export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/** Text a user or a device wrote, made fit for a one-line message: control characters shown as JSON escapes. */
export function printable(text: string): string {
  return text.replace(new RegExp(CONTROL, 'gu'), (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** A value in double quotes for a message; unlike JSON.stringify alone, DEL and C1 codes are escaped too. */
export function quoted(text: string): string {
  return printable(JSON.stringify(text));
}
