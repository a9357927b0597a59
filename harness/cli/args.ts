/** Small helpers the commands share for their arguments and messages. */
import { relative } from 'node:path';
import { UsageError, quoted } from '../errors.ts';

/** A path as a user reads it in a message: relative when it is under the working folder. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

/** A flag's whole-number value within bounds, or a one-line usage error naming the flag. */
export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`${flag} ${quoted(value)}: give a whole number from ${min} to ${max}`);
  return n;
}
