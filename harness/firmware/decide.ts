/**
 * How a firmware scenario reaches its verdict: wait on the endpoint's records (event-driven,
 * bounded) until a judgement decides, or the bound ends and it must decide from what came; then
 * pass with a note, pass with a warning, or fail with the judgement's reason.
 */
import { AssertionError } from 'chai';
import type { Attempt } from './records.ts';
import type { Judgement } from './verdicts.ts';

/** What these helpers need of a FirmwareContext (harness/run), so they stay pure of the runner. */
export interface JudgingContext {
  readonly bound: number;
  attempts(): Attempt[];
  until<T>(what: string, check: (attempts: Attempt[]) => T | undefined, timeoutMs?: number): Promise<T>;
  warn(text: string): void;
  note(text: string): void;
}

/**
 * Like ctx.until(), but a wait that ends with the bound gives undefined instead of an error, so
 * the scenario can judge what the device did meanwhile. A device that made no attempt at all is
 * still the device error ctx.until() raises (it names the endpoint the device was told to use).
 */
export async function waitFor<T>(ctx: JudgingContext, what: string, check: (attempts: Attempt[]) => T | undefined, timeoutMs?: number): Promise<T | undefined> {
  try {
    return await ctx.until(what, check, timeoutMs);
  } catch (err) {
    if (ctx.attempts().length === 0 || !isTimeout(err)) throw err;
    return undefined;
  }
}

/**
 * A timeout of ctx.until() (FirmwareContext.timeoutError: "<what>: not seen within N ms (...)"),
 * as opposed to a panic, a device gone, no attempt at all, or a scenario cut off: those stand.
 */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.constructor === Error && /: not seen within \d+ ms\b/.test(err.message);
}

/**
 * Waits until `judge(attempts, false)` decides, at most `timeoutMs` (default: the scenario's
 * bound); then `judge(attempts, true)` must. Concludes the scenario with the judgement.
 */
export async function decide(
  ctx: JudgingContext, what: string,
  judge: (attempts: Attempt[], final: boolean) => Judgement | undefined, timeoutMs?: number,
): Promise<Judgement> {
  const early = await waitFor(ctx, what, (as) => judge(as, false), timeoutMs);
  const j = early ?? judge(ctx.attempts(), true) ?? { verdict: 'fail', reason: `no decision: ${what} did not happen within ${Math.round(timeoutMs ?? ctx.bound)} ms` };
  conclude(ctx, j);
  return j;
}

/** pass: the reason as a note; warn: a warning (pass with warnings); fail: an assertion failure. */
export function conclude(ctx: Pick<JudgingContext, 'warn' | 'note'>, j: Judgement): void {
  if (j.verdict === 'pass') ctx.note(j.reason);
  else if (j.verdict === 'warn') ctx.warn(j.reason);
  else throw new AssertionError(j.reason);
}
