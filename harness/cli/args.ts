/** Small helpers the commands share for their arguments and messages. */
import type { Command } from 'commander';
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

/**
 * Refuses an empty value for any option or argument of `command` and the commands above it.
 * Commander takes `--dir ''` as given, and an empty path means the current folder: `hilt certs
 * --dir ''` once wrote the whole PKI, root keys included, there. Run before every action, so a
 * new option is covered without a line of its own.
 */
export function refuseEmptyValues(command: Command): void {
  for (let c: Command | null = command; c; c = c.parent) {
    for (const option of c.options) {
      const value: unknown = c.getOptionValue(option.attributeName());
      if (!(Array.isArray(value) ? value : [value]).includes('')) continue;
      const name = option.long ?? option.flags;
      const wanted = /<[^>]+>/.exec(option.flags)?.[0] ?? 'value';
      const fallback = typeof option.defaultValue === 'string' ? ` (default: ${option.defaultValue})` : '';
      throw new UsageError(`${name} "": empty value: give ${wanted}, or leave ${name} out${fallback}`);
    }
  }
  command.registeredArguments.forEach((argument, i) => {
    const value: unknown = command.processedArgs[i];
    if ((Array.isArray(value) ? value : [value]).includes('')) {
      const path = [];
      for (let c: Command | null = command; c?.parent; c = c.parent) path.unshift(c.name());
      throw new UsageError(`${path.join(' ')} "": empty <${argument.name()}>: give one`);
    }
  });
}
