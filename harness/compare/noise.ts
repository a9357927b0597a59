/**
 * When a change of a median is noise. The rule (docs/compare.md):
 *
 *   band = max(K × σ̂, floor for the unit, share of the baseline's median for the unit)
 *   σ̂ = 1.4826 × the larger MAD (median absolute deviation) of the two runs' repetitions
 *
 * 1.4826 × MAD estimates a standard deviation without being pulled by one slow repetition (a CI
 * machine that paused); K = 3 puts the band three of them wide. One repetition has no spread,
 * two say little about it: with fewer than three in either run the time floor is wider (`few`).
 * A change counts when |current − baseline| > band.
 */
import { median } from '../report/model.ts';

export interface NoiseRule {
  /** How many estimated standard deviations wide the band is. */
  k: number;
  /**
   * Per unit: a change smaller than `absolute` (in the unit) or `relative` × the baseline's median
   * is noise; `few` replaces `absolute` when either run has fewer than FEW_REPETITIONS.
   */
  floors: Record<'ms' | 'B', { absolute: number; few: number; relative: number }>;
}

/** Below this many repetitions a MAD says nothing about the spread. */
export const FEW_REPETITIONS = 3;

export const NOISE: NoiseRule = {
  k: 3,
  floors: {
    // Measured on the emulator's catalogue, two runs of the same build on a loaded 2-core machine
    // (docs/compare.md): one repetition each, a phase moved by up to 183 ms; three each, the
    // medians by up to 48 ms. 10% of a 1.2 s handshake is 120 ms.
    ms: { absolute: 50, few: 200, relative: 0.1 },
    // The heap figures are nearly deterministic: a change of a quarter KiB or 2% is a real one.
    B: { absolute: 256, few: 256, relative: 0.02 },
  },
};

/** Median absolute deviation; 0 for fewer than two values (no spread known). */
export function mad(values: number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/** Half-width of the band around the baseline's median within which a change is noise. */
export function noiseBand(unit: 'ms' | 'B', baseline: number[], current: number[], rule: NoiseRule = NOISE): number {
  const sigma = 1.4826 * Math.max(mad(baseline), mad(current));
  const floor = rule.floors[unit];
  const few = Math.min(baseline.length, current.length) < FEW_REPETITIONS;
  return Math.max(rule.k * sigma, few ? floor.few : floor.absolute, floor.relative * Math.abs(median(baseline)));
}
