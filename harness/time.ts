/** Bounded waits shared by the CLI, transports and the runner: nothing waits for ever. */

/** Resolves with `work`'s value, or 'timeout' after `ms` (then `work` is left to finish alone). */
export async function within<T>(ms: number, work: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Like within(), for clean-up: never rejects, says only whether `work` settled in time. */
export async function settleWithin(ms: number, work: Promise<unknown>): Promise<'done' | 'timeout'> {
  const outcome = await within(ms, work.then(() => 'done' as const, () => 'done' as const));
  return outcome;
}
