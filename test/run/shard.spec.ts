/** `--shard i/n`: the split is the documented rule, a partition, and bad values are one usage line. */
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { UsageError } from '../../harness/errors.ts';
import { parseShard, shardOf } from '../../harness/run/shard.ts';
import { join } from 'node:path';
import { REPO, hilt, latestResults, tempDir } from '../helpers.ts';

const IDS = [
  '01-mtls-happy-path/01-mutual-tls-happy-path-with-mqtt-connects-with-mutual-tls-publishes-and-receiv',
  '05-wrong-ca/05-wrong-ca-refuses-a-broker-whose-chain-leads-to-a-root-it-does-not-trust-flags',
  '12-ca-rotation/12-ca-rotation-with-only-the-old-root-refuses-a-broker-moved-to-the-next-root-fl',
  'sensor/überlange-id-mit-umlaut',
];

describe('--shard', function () {
  it('is the rule docs/ci.md states: first four bytes of SHA-256 of the id, mod n, plus one (checked with sha256sum)', function () {
    for (const id of IDS) {
      const hex = execFileSync('sha256sum', [], { input: Buffer.from(id, 'utf8') }).toString().slice(0, 8);
      for (const n of [1, 2, 3, 7]) expect(shardOf(id, n), `${id} of ${n}`).to.equal((parseInt(hex, 16) % n) + 1);
    }
  });

  it('puts every id in exactly one shard', function () {
    const ids = Array.from({ length: 200 }, (_, i) => `file-${i % 9}/scenario-${i}`);
    for (const n of [1, 2, 5]) {
      const parts = Array.from({ length: n }, (_, k) => ids.filter((id) => shardOf(id, n) === k + 1));
      expect(parts.flat().sort()).to.deep.equal([...ids].sort());
      if (n > 1) expect(parts.every((p) => p.length > 0)).to.equal(true);
    }
  });

  it('reads i/n and refuses anything else naming the flag', function () {
    expect(parseShard('1/1')).to.deep.equal({ index: 1, count: 1 });
    expect(parseShard('3/4')).to.deep.equal({ index: 3, count: 4 });
    for (const bad of ['3/2', '0/2', 'a/b', '1/0', '2', '1/2/3', ' 1/2', '-1/2', '1/257']) {
      expect(() => parseShard(bad), bad).to.throw(UsageError, new RegExp(`^--shard ".*": give i/n`));
    }
  });

  it('any text is a shard within bounds or one printable usage line (fast-check)', function () {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }),
      fc.tuple(fc.integer({ min: -3, max: 300 }), fc.integer({ min: -3, max: 300 }), fc.constantFrom('', '0', '00')).map(([i, n, zeros]) => `${zeros}${i}/${n}`));
    fc.assert(fc.property(text, (t) => {
      try {
        const { index, count } = parseShard(t);
        return Number.isInteger(index) && Number.isInteger(count) && index >= 1 && index <= count && count <= 256 && /^\d+\/\d+$/.test(t) && t.split('/').map(Number).join('/') === `${index}/${count}`;
      } catch (err) {
        return err instanceof UsageError && !/[\n\r]/.test(err.message) && err.message.startsWith('--shard "');
      }
    }), { numRuns: 2000 });
  });

  it('hilt run with a bad --shard: one line on stderr, exit 2, no report folder', async function () {
    this.timeout(30_000);
    const { dir, remove } = await tempDir('hilt-shard-');
    try {
      for (const bad of ['3/2', '0/2', 'a/b']) {
        const { code, stderr } = await hilt(['run', '--shard', bad, '--report-dir', 'reports'], { cwd: dir });
        expect(code, stderr).to.equal(2);
        expect(stderr.trim().split('\n'), stderr).to.have.length(1);
        expect(stderr).to.match(new RegExp(`^hilt: --shard "${bad}": give i/n`));
      }
      expect(execFileSync('ls', ['-A', dir]).toString()).to.equal('');
    } finally {
      await remove();
    }
  });

  it('a shard the selection leaves empty is a run of nothing: exit 0, a report with no scenarios and its shard', async function () {
    this.timeout(60_000);
    const { dir, remove } = await tempDir('hilt-shard-');
    try {
      const other = shardOf(IDS[0]!, 2) === 1 ? 2 : 1;
      const { code, stdout, stderr } = await hilt(['run', join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts'), '--shard', `${other}/2`], { cwd: dir, timeoutMs: 45_000 });
      expect(code, stderr).to.equal(0);
      expect(stdout).to.include('0 passed, 0 failed, 0 errors, 0 skipped');
      const r = await latestResults(dir);
      expect(r.scenarios).to.deep.equal([]);
      expect(r.run.shard).to.deep.equal({ index: other, count: 2 });
    } finally {
      await remove();
    }
  });
});
