/**
 * `hilt run --shard i/n`: which scenarios this machine runs when CI spreads the catalogue over n.
 *
 * A scenario belongs to shard (h mod n) + 1, h being the first four bytes of the SHA-256 of its
 * id. It depends on the id and n alone: not on the machine, the file system's order, --grep,
 * nor on which other scenarios exist, so each of n machines decides the same split without
 * seeing the others, and adding or removing a scenario moves no other one to another shard
 * (a split by sorted position would move every scenario after it). The price is balance: shards
 * differ in size by chance, and one may even be empty, which is a run of nothing (exit 0).
 */
import { createHash } from 'node:crypto';
import type Mocha from 'mocha';
import { UsageError, quoted } from '../errors.ts';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Enough for any CI matrix; a bound keeps a typo (--shard 1/20000) from being a run of nothing. */
export const MAX_SHARDS = 256;

/** "2/4" -> {index: 2, count: 4}; anything else is one usage line naming the flag. */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || count > MAX_SHARDS || index < 1 || index > count) {
    throw new UsageError(`${flag} ${quoted(text)}: give i/n, this machine's part i of n, with 1 <= i <= n <= ${MAX_SHARDS} (e.g. ${flag} 1/2 and ${flag} 2/2 on two machines)`);
  }
  return { index, count };
}

/** The shard (1-based) a scenario id belongs to among `count`. */
export function shardOf(id: string, count: number): number {
  return (createHash('sha256').update(id, 'utf8').digest().readUInt32BE(0) % count) + 1;
}

/**
 * Removes from the loaded suites every scenario of another shard. `ids` were decided on the whole
 * catalogue first, so a scenario keeps its id (and its shard) whichever shard runs.
 */
export function keepShard(root: Mocha.Suite, ids: Map<Mocha.Test, string>, shard: Shard): void {
  const prune = (suite: Mocha.Suite) => {
    suite.tests = suite.tests.filter((t) => shardOf(ids.get(t)!, shard.count) === shard.index);
    suite.suites.forEach(prune);
  };
  prune(root);
}
