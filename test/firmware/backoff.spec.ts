/**
 * classifyBackoff on synthetic series of each class. Exact series check the figures in `detail`;
 * seeded random series (fast-check, fixed seeds) check the classes over many draws. Where a
 * random policy can by chance produce a series of another shape (a jittered series that happens
 * to lie on a smooth curve, a decorrelated-jitter path that does not grow), the test asserts the
 * rate measured for docs/backoff.md, and that such a series is never judged a failing class.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { BackoffInputError, classifyBackoff, type BackoffClass } from '../../harness/firmware/backoff.ts';
import { judgeBackoff } from '../../harness/firmware/verdicts.ts';

const SEED = 20261201;

/** A uniform draw in [a, b) from a seeded generator (mulberry32): fast-check draws the seeds. */
type Draw = (a: number, b: number) => number;
function drawFrom(seed: number): Draw {
  let t = seed >>> 0;
  return (a, b) => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return a + (b - a) * (((r ^ (r >>> 14)) >>> 0) / 4294967296);
  };
}

const series = {
  constant: (n: number, d: Draw) => { const c = d(100, 30_000); return Array.from({ length: n }, () => c * d(0.95, 1.05)); },
  linear: (n: number, d: Draw) => {
    const step = d(50, 5000); const first = step * d(0.5, 3);
    return Array.from({ length: n }, (_, i) => (first + step * i) * d(0.97, 1.03));
  },
  exponential: (n: number, d: Draw) => {
    const f = d(1.5, 3); const base = d(50, 2000);
    return Array.from({ length: n }, (_, i) => base * f ** i * d(0.97, 1.03));
  },
  capped: (n: number, d: Draw) => {
    const base = d(50, 1000); const cap = base * 2 ** Math.floor(d(2, n - 1));
    return Array.from({ length: n }, (_, i) => Math.min(cap, base * 2 ** i) * d(0.98, 1.02));
  },
  jitter25: (n: number, d: Draw) => { const base = d(50, 2000); return Array.from({ length: n }, (_, i) => base * 2 ** i * d(0.75, 1.25)); },
  /** AWS "full jitter": sleep = random(0, min(cap, base · 2^attempt)). */
  full: (n: number, d: Draw) => {
    const base = d(50, 2000); const cap = base * 2 ** Math.floor(d(n, n + 6));
    return Array.from({ length: n }, (_, i) => d(0, Math.min(cap, base * 2 ** i)));
  },
  /** AWS "decorrelated jitter": sleep = min(cap, random(base, sleep · 3)), sleep starting at base. */
  decorrelated: (n: number, d: Draw) => {
    const base = d(50, 2000); const cap = base * 1000; let sleep = base;
    return Array.from({ length: n }, () => (sleep = Math.min(cap, d(base, sleep * 3))));
  },
};

const arb = (make: (n: number, d: Draw) => number[], min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min: 0, max: 0xffffffff })).map(([n, seed]) => make(n, drawFrom(seed)));

const classOf = (x: number[]) => classifyBackoff(x).class;

/** The share of `runs` draws classified as each class. */
function rates(make: (n: number, d: Draw) => number[], n: number, runs = 2000): Partial<Record<BackoffClass, number>> {
  const counts: Partial<Record<BackoffClass, number>> = {};
  for (const x of fc.sample(arb(make, n, n), { seed: SEED, numRuns: runs })) {
    const c = classOf(x);
    counts[c] = (counts[c] ?? 0) + 1 / runs;
  }
  return counts;
}

const always = (make: (n: number, d: Draw) => number[], min: number, max: number, want: BackoffClass) =>
  fc.assert(fc.property(arb(make, min, max), (x) => {
    expect(classOf(x), x.map(Math.round).join(', ')).to.equal(want);
  }), { seed: SEED, numRuns: 300 });

describe('classifyBackoff', () => {
  describe('exact series', () => {
    it('a fixed wait is constant, and says the figures', () => {
      const r = classifyBackoff([10_000, 10_000, 10_000, 10_000, 10_000]);
      expect(r).to.deep.equal({ class: 'constant', detail: '10000–10000 ms (mean 10000 ms, CV 0.00 <= 0.15)' });
    });

    it('a wait growing by a fixed step is linear', () => {
      expect(classifyBackoff([1000, 2000, 3000, 4000, 5000])).to.deep.equal({
        class: 'linear', detail: '+1000 ms per attempt (every wait within 0 % of the line), 1000–5000 ms',
      });
    });

    it('a doubling wait is exponential, with its ratios', () => {
      expect(classifyBackoff([1000, 1980, 4000, 8100, 16_000])).to.deep.equal({
        class: 'exponential', detail: 'ratios 1.98–2.02 (×2.00 per attempt), 1000–16000 ms',
      });
    });

    it('a doubling wait that reaches its cap is exponential, and names the cap', () => {
      const r = classifyBackoff([1000, 2000, 4000, 8000, 8000, 8000, 8000]);
      expect(r.class).to.equal('exponential');
      expect(r.detail).to.equal('ratios 2.00–2.00 (×2.00 per attempt), 1000–8000 ms, cap 8000 ms reached after 3 intervals');
    });

    it('a linear wait timed on a host that ran 53 ms late once is linear when the host lag is given, not jitter', () => {
      // The catalogue's linear-backoff defect at time scale 0.1, one accept seen 53 ms late.
      const late = [100, 253, 300, 400, 500];
      expect(classifyBackoff(late).class).to.equal('exponential-jitter');
      expect(classifyBackoff(late, 55).class).to.equal('linear');
    });

    it('a linear wait that reaches its cap is linear', () => {
      expect(classifyBackoff([500, 1000, 1500, 2000, 2000, 2000]).class).to.equal('linear');
    });

    it('a growing wait off any smooth curve is exponential-jitter', () => {
      const r = classifyBackoff([700, 2600, 2900, 9100, 12_400, 41_000]);
      expect(r.class).to.equal('exponential-jitter');
      expect(r.detail).to.equal('randomised and growing: later waits ×10.1 the earlier ones, ratios 1.12–3.71, 700–41000 ms');
    });

    it('random waits that do not grow are random, not backoff', () => {
      const r = classifyBackoff([1200, 600, 1500, 700, 1400, 800]);
      expect(r.class).to.equal('random');
      expect(r.detail).to.match(/^randomised without growing: later waits ×0\.\d\d the earlier ones/);
    });

    it('shrinking waits are not backoff either', () => {
      expect(classifyBackoff([8000, 4000, 2000, 1000, 500]).class).to.equal('random');
    });
  });

  describe('edge cases', () => {
    it('fewer than four intervals (five attempts) are too few, whatever they are', () => {
      expect(classifyBackoff([])).to.deep.equal({ class: 'too-few', detail: '0 intervals (1 attempts): at least 4 (5 attempts) are needed to see a trend' });
      expect(classifyBackoff([1000, 2000, 4000])).to.deep.equal({
        class: 'too-few', detail: '3 intervals (4 attempts): at least 4 (5 attempts) are needed to see a trend: 1000, 2000, 4000 ms',
      });
    });

    it('waits of zero (a device that reconnects at once) are constant', () => {
      expect(classifyBackoff([0, 0, 0, 0, 0]).class).to.equal('constant');
    });

    it('a wait that is negative, NaN or infinite is refused with one line naming it', () => {
      for (const [bad, shown] of [[-5, '-5'], [NaN, 'NaN'], [Infinity, 'Infinity']] as const) {
        expect(() => classifyBackoff([1000, 2000, bad, 8000])).to.throw(BackoffInputError,
          new RegExp(`^backoff interval 3 of 4 is ${shown}: intervals are waits in milliseconds, finite and >= 0$`));
      }
    });
  });

  describe('seeded random series', () => {
    it('constant with ±5 % noise is always constant', () => always(series.constant, 4, 12, 'constant'));
    it('linear with ±3 % noise is always linear (6 intervals or more)', () => always(series.linear, 6, 12, 'linear'));
    it('strict exponential (factor 1.5–3) with ±3 % noise is always exponential', () => always(series.exponential, 4, 12, 'exponential'));
    it('capped exponential with ±2 % noise is always exponential', () => always(series.capped, 5, 12, 'exponential'));

    it('exponential with ±25 % jitter is never a failing class, and is jitter in >= 99 % of 6-interval series', () => {
      fc.assert(fc.property(arb(series.jitter25, 4, 12), (x) => {
        expect(classOf(x)).to.be.oneOf(['exponential-jitter', 'exponential']);
      }), { seed: SEED, numRuns: 300 });
      expect(rates(series.jitter25, 6)['exponential-jitter']).to.be.at.least(0.99);
    });

    it('AWS full jitter is jitter in >= 99 % of 6-interval series, and never constant or linear from 6 on', () => {
      fc.assert(fc.property(arb(series.full, 6, 12), (x) => {
        expect(classOf(x)).to.be.oneOf(['exponential-jitter', 'random']);
      }), { seed: SEED, numRuns: 300 });
      expect(rates(series.full, 6)['exponential-jitter']).to.be.at.least(0.99);
    });

    it('AWS decorrelated jitter is jitter in >= 75 % of 7-interval series, random (a warning) in most others', () => {
      const r = rates(series.decorrelated, 7);
      expect(r['exponential-jitter']).to.be.at.least(0.75);
      expect((r.constant ?? 0) + (r.linear ?? 0)).to.be.at.most(0.01);
    });
  });

  describe('verdicts', () => {
    it('jitter passes, strict exponential warns, constant and linear fail; each reason lists the intervals', () => {
      expect(judgeBackoff([700, 2600, 2900, 9100, 12_400, 41_000])).to.include({ verdict: 'pass' });
      expect(judgeBackoff([1000, 2000, 4000, 8000, 16_000])).to.deep.include({ verdict: 'warn' })
        .and.to.have.property('reason').that.matches(/^strictly exponential backoff without jitter \(class exponential; intervals 1000, 2000, 4000, 8000, 16000 ms; ratios/);
      expect(judgeBackoff([10_000, 10_000, 10_000, 10_000]).verdict).to.equal('fail');
      expect(judgeBackoff([1000, 2000, 3000, 4000]).verdict).to.equal('fail');
      expect(judgeBackoff([1200, 600, 1500, 700, 1400, 800]).verdict).to.equal('warn');
      expect(judgeBackoff([1000, 2000]).verdict).to.equal('fail');
    });
  });
});
