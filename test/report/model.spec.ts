/** The statistics every report shows: median and nearest-rank p95. */
import { expect } from 'chai';
import { median, p95, totalsOf } from '../../harness/report/index.ts';
import { scenarios } from './fixtures.ts';

describe('results model statistics', function () {
  it('median of odd, even and single counts', function () {
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([7])).to.equal(7);
    expect(median([])).to.be.NaN;
  });

  it('p95 is nearest-rank: the max for small counts, the 19th of 20, the 20th of 21', function () {
    expect(p95([9])).to.equal(9);
    expect(p95([3, 1, 2])).to.equal(3);
    expect(p95([4, 1, 3, 2])).to.equal(4);
    const twenty = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(p95(twenty)).to.equal(19);
    expect(p95([...twenty, 21])).to.equal(20);
    expect(p95([])).to.be.NaN;
  });

  it('does not reorder the values it is given', function () {
    const values = [3, 1, 2];
    median(values);
    p95(values);
    expect(values).to.deep.equal([3, 1, 2]);
  });

  it('totals count each outcome', function () {
    expect(totalsOf(scenarios())).to.deep.equal({ passed: 1, failed: 1, error: 1, skipped: 1 });
  });
});
