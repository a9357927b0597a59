/** Reading a target's ?key=value options, refusing what a kind does not take. */
import { isIP } from 'node:net';
import { UsageError } from '../../errors.ts';

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A DNS name or an IP address, by the rule the PKI applies to names on server certificates. */
export function isHostName(host: string): boolean {
  return isIP(host) !== 0 || HOST_NAME.test(host);
}

/** Addresses that mean "every address of this machine": fine to listen on, no address to give a board. */
export function isWildcardAddress(host: string): boolean {
  return ['0.0.0.0', '::', '[::]'].includes(host);
}

export function targetOptions(url: string, query: URLSearchParams, known: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (const [key, value] of query) {
    if (!known.includes(key)) {
      throw new UsageError(`target ${url}: unknown option ${JSON.stringify(key)}: this kind takes ${known.length ? known.join(', ') : 'no options'}`);
    }
    // Which of two values wins is no rule a user can guess: refuse rather than pick one.
    if (options.has(key)) throw new UsageError(`target ${url}: ${key} given twice: give each option once`);
    options.set(key, value);
  }
  return options;
}

export function resetOption(url: string, value: string | undefined): 'agent' | 'hello' {
  if (value === undefined || value === 'agent') return 'agent';
  if (value === 'hello' || value === 'none') return 'hello';
  throw new UsageError(`target ${url}: reset=${value}: use reset=agent (the agent's reset command) or reset=none (hello only)`);
}

/** `0` or `1`, as in the agent protocol; absent is `fallback`. */
export function boolOption(url: string, key: string, value: string | undefined, fallback: boolean, meaning: string): boolean {
  if (value === undefined) return fallback;
  if (value !== '0' && value !== '1') throw new UsageError(`target ${url}: ${key}=${value}: use ${key}=1 (${meaning}) or ${key}=0`);
  return value === '1';
}

export function intOption(url: string, key: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`target ${url}: ${key}=${value}: give a whole number from ${min} to ${max}`);
  return n;
}

/** `mode=agent` (the test agent, the default) or `mode=firmware` (the board's own application). */
export function modeOption(url: string, value: string | undefined, fallback: 'agent' | 'firmware' = 'agent'): 'agent' | 'firmware' {
  if (value === undefined) return fallback;
  if (value === 'agent' || value === 'firmware') return value;
  throw new UsageError(`target ${url}: mode=${value}: use mode=agent (the device runs hilt's test agent) or mode=firmware (its own application)`);
}
