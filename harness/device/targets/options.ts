/** Reading a target's ?key=value options, refusing what a kind does not take. */
import { UsageError } from '../../errors.ts';

export function targetOptions(url: string, query: URLSearchParams, known: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (const [key, value] of query) {
    if (!known.includes(key)) {
      throw new UsageError(`target ${url}: unknown option ${JSON.stringify(key)}: this kind takes ${known.length ? known.join(', ') : 'no options'}`);
    }
    options.set(key, value);
  }
  return options;
}

export function resetOption(url: string, value: string | undefined): 'agent' | 'hello' {
  if (value === undefined || value === 'agent') return 'agent';
  if (value === 'hello' || value === 'none') return 'hello';
  throw new UsageError(`target ${url}: reset=${value}: use reset=agent (the agent's reset command) or reset=none (hello only)`);
}

export function intOption(url: string, key: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`target ${url}: ${key}=${value}: give a whole number from ${min} to ${max}`);
  return n;
}
