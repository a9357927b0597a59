/**
 * Classifies a device's reconnect policy from the waits between its connection attempts. The rule
 * and its thresholds are documented in docs/backoff.md; the constants below are those figures.
 */

export type BackoffClass = 'constant' | 'linear' | 'exponential' | 'exponential-jitter' | 'random' | 'too-few';

export interface BackoffResult {
  class: BackoffClass;
  /** One line with the figures the class was decided on. */
  detail: string;
}

/** Fewer waits than this cannot show a trend (five attempts). */
export const MIN_INTERVALS = 4;
/** Coefficient of variation at or under which the waits are one value with timing noise. */
export const CONSTANT_CV = 0.15;
/** Trailing waits within this fraction of the longest are a cap (plateau). */
export const CAP_TOLERANCE = 0.05;
/** A smooth curve fits when every wait is within this fraction of it ... */
export const FIT_TOLERANCE = 0.05;
/** ... or within this many milliseconds (timer and loopback noise on short waits). */
export const FIT_SLACK_MS = 5;
/** A strict exponential grows by at least this factor per attempt. */
export const MIN_FACTOR = 1.25;
/** Growing: the later half's mean wait is at least this multiple of the earlier half's. */
export const GROWTH = 1.5;

/** A classification error: the series is not a list of waits (negative, NaN, infinite). */
export class BackoffInputError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'BackoffInputError';
  }
}

/**
 * `hostLagMs`: the longest the measuring host was late to run anything while the waits were
 * timed (its event-loop delay). A timestamp taken that late makes a wait that much longer, never
 * shorter: a wait may lie that much further above a curve (docs/backoff.md, "Host load").
 */
export function classifyBackoff(intervalsMs: readonly number[], hostLagMs = 0): BackoffResult {
  intervalsMs.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      throw new BackoffInputError(`backoff interval ${i + 1} of ${intervalsMs.length} is ${String(x)}: intervals are waits in milliseconds, finite and >= 0`);
    }
  });
  const x = [...intervalsMs];
  const shown = `${x.length} interval${x.length === 1 ? '' : 's'}`;
  if (x.length < MIN_INTERVALS) {
    return { class: 'too-few', detail: `${shown} (${x.length + 1} attempts): at least ${MIN_INTERVALS} (${MIN_INTERVALS + 1} attempts) are needed to see a trend${x.length ? `: ${list(x)}` : ''}` };
  }
  const range = `${Math.round(Math.min(...x))}–${ms(Math.max(...x))}`;
  const avg = mean(x);
  const cv = avg === 0 ? 0 : stddev(x) / avg;
  if (cv <= CONSTANT_CV) {
    return { class: 'constant', detail: `${range} (mean ${ms(avg)}, CV ${cv.toFixed(2)} <= ${CONSTANT_CV})` };
  }

  // A cap: the series climbs, then stays at its longest wait. Only the climb is fitted.
  const cap = plateau(x);
  const climb = cap ? x.slice(0, cap.from + 1) : x;
  const capText = cap ? `, cap ${ms(cap.value)} reached after ${cap.from} interval${cap.from === 1 ? '' : 's'}` : '';
  if (climb.length >= 3) {
    const lagMs = Math.max(0, hostLagMs);
    const exp = fitExponential(climb, lagMs);
    const lin = fitLinear(climb, lagMs);
    const expOk = exp.factor >= MIN_FACTOR && exp.fits;
    const linOk = lin.slope > 0 && lin.fits;
    if (expOk && (!linOk || exp.worst <= lin.worst)) {
      const r = ratios(climb);
      return { class: 'exponential', detail: `ratios ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)} (×${exp.factor.toFixed(2)} per attempt), ${range}${capText}` };
    }
    if (linOk) {
      return { class: 'linear', detail: `+${ms(lin.slope)} per attempt (every wait within ${pct(lin.worst)} of the line), ${range}${capText}` };
    }
  }

  // Neither curve fits: the waits are randomised. They are backoff only if they grow.
  const half = Math.floor(x.length / 2);
  const growth = mean(x.slice(x.length - half)) / Math.max(mean(x.slice(0, half)), Number.MIN_VALUE);
  const r = ratios(x);
  const spread = `ratios ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}`;
  if (growth >= GROWTH) {
    return { class: 'exponential-jitter', detail: `randomised and growing: later waits ×${growth.toFixed(1)} the earlier ones, ${spread}, ${range}` };
  }
  return { class: 'random', detail: `randomised without growing: later waits ×${growth.toFixed(2)} the earlier ones (< ${GROWTH}), ${spread}, ${range}` };
}

/** The trailing run of waits at the longest one (within CAP_TOLERANCE), if at least two long. */
function plateau(x: number[]): { from: number; value: number } | null {
  const top = Math.max(...x);
  let from = x.length;
  while (from > 0 && x[from - 1]! >= top * (1 - CAP_TOLERANCE)) from--;
  if (x.length - from < 2) return null;
  return { from, value: mean(x.slice(from)) };
}

interface Fit { fits: boolean; worst: number }

/** Least squares of log(wait) on the attempt number: a geometric series a·f^i. */
function fitExponential(x: number[], lagMs: number): Fit & { factor: number } {
  if (x.some((v) => v <= 0)) return { fits: false, worst: Infinity, factor: 0 };
  const { a, b } = leastSquares(x.map(Math.log));
  return { factor: Math.exp(b), ...judge(x, (i) => Math.exp(a + b * i), lagMs) };
}

/**
 * Least squares of the wait on the attempt number: a + s·i, weighted by 1/wait² so that it
 * minimises relative misses (the short first waits count as much as the long ones).
 */
function fitLinear(x: number[], lagMs: number): Fit & { slope: number } {
  const { a, b } = leastSquares(x, x.map((v) => 1 / Math.max(v, 1) ** 2));
  return { slope: b, ...judge(x, (i) => a + b * i, lagMs) };
}

/**
 * Whether every wait lies within the tolerance of the curve, and the worst relative miss. Host
 * lag only ever lengthens a measured wait: it is allowed above the curve, and not counted there.
 */
function judge(x: number[], curve: (i: number) => number, lagMs: number): Fit {
  let fits = true;
  let worst = 0;
  x.forEach((v, i) => {
    const c = curve(i);
    const miss = v > c ? Math.max(0, v - c - lagMs) : c - v;
    if (miss > FIT_TOLERANCE * Math.abs(c) + FIT_SLACK_MS) fits = false;
    worst = Math.max(worst, c > 0 ? miss / c : Infinity);
  });
  return { fits, worst };
}

/** y = a + b·i by (weighted) least squares. */
function leastSquares(y: number[], w: number[] = y.map(() => 1)): { a: number; b: number } {
  const sw = w.reduce((s, v) => s + v, 0);
  const mi = y.reduce((s, _, i) => s + w[i]! * i, 0) / sw;
  const my = y.reduce((s, v, i) => s + w[i]! * v, 0) / sw;
  let num = 0;
  let den = 0;
  y.forEach((v, i) => {
    num += w[i]! * (i - mi) * (v - my);
    den += w[i]! * (i - mi) ** 2;
  });
  const b = num / den;
  return { a: my - b * mi, b };
}

function ratios(x: number[]): number[] {
  const r: number[] = [];
  for (let i = 1; i < x.length; i++) r.push(x[i]! / Math.max(x[i - 1]!, 1));
  return r;
}

function mean(x: number[]): number {
  return x.reduce((s, v) => s + v, 0) / x.length;
}

function stddev(x: number[]): number {
  const m = mean(x);
  return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length);
}

const ms = (v: number) => `${Math.round(v)} ms`;
const pct = (v: number) => `${Math.round(v * 100)} %`;
const list = (x: number[]) => x.map((v) => Math.round(v)).join(', ') + ' ms';

/** The waits as a report shows them: "1000, 2010, 3990 ms". */
export function formatIntervals(intervalsMs: readonly number[]): string {
  return intervalsMs.length ? list([...intervalsMs]) : 'none';
}
