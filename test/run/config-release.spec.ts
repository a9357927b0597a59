/**
 * hilt.config.json's fields for the release workflow (issue 11): several targets, comparing with
 * a baseline, keeping the last N reports. Same rule as test/run/config.spec.ts: one line per
 * mistake naming the file and the field.
 */
import { expect } from 'chai';
import { UsageError } from '../../harness/errors.ts';
import { validateConfig } from '../../harness/run/config.ts';

function refusal(raw: unknown): string {
  try {
    validateConfig(raw, 'hilt.config.json');
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    expect((err as Error).message).to.not.include('\n');
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('run configuration: release workflow fields', function () {
  it('targets: several boards; target is the first, and each came from the file', function () {
    const config = validateConfig({ targets: ['serial:/dev/ttyUSB0', 'serial:/dev/ttyUSB1'], eachTarget: true }, 'bench.json');
    expect(config.targets).to.deep.equal(['serial:/dev/ttyUSB0', 'serial:/dev/ttyUSB1']);
    expect(config.target).to.equal('serial:/dev/ttyUSB0');
    expect(config.eachTarget).to.equal(true);
    expect(config.sources).to.deep.equal({ target: 'bench.json: targets[0]', targets: 'bench.json: targets' });
  });

  it('target alone is a list of one; nothing given is the emulator, split (not each)', function () {
    expect(validateConfig({ target: 'tcp:bench:5555' }, 'f')).to.include({ target: 'tcp:bench:5555', eachTarget: false });
    expect(validateConfig({ target: 'tcp:bench:5555' }, 'f').targets).to.deep.equal(['tcp:bench:5555']);
    expect(validateConfig({}, 'f').targets).to.deep.equal(['emulator']);
    // The same kind twice is two boards (two emulators), not a mistake.
    expect(validateConfig({ targets: ['emulator', 'emulator'] }, 'f').targets).to.deep.equal(['emulator', 'emulator']);
  });

  it('baseline and reports.keep; budgets relative to the baseline', function () {
    const config = validateConfig({ baseline: 'release/1.4.0', reports: { keep: 20 }, budgets: { tls_ms: '<= baseline + 10%', heap_peak_used: '<= baseline + 2 KiB', total_ms: '<= 3 s' } }, 'f');
    expect(config).to.include({ baseline: 'release/1.4.0', reportsKeep: 20 });
    expect(config.budgets.map((b) => [b.metric, b.relative ?? b.limit])).to.deep.equal([
      ['tls_ms', { margin: 10, percent: true }], ['heap_peak_used', { margin: 2048, percent: false }], ['total_ms', 3000],
    ]);
    expect(validateConfig({}, 'f')).to.include({ baseline: null, reportsKeep: null });
    expect(validateConfig({ reports: {} }, 'f').reportsKeep).to.equal(null);
  });

  const mistakes: Array<[string, unknown, RegExp]> = [
    ['a baseline that is no path', { baseline: 5 }, /^hilt\.config\.json: baseline: expected a non-empty string$/],
    ['reports as a number', { reports: 20 }, /^hilt\.config\.json: reports: expected an object like \{"keep": 20\}$/],
    ['keep 0', { reports: { keep: 0 } }, /^hilt\.config\.json: reports\.keep: expected a whole number from 1 to 100000$/],
    ['an unknown reports field', { reports: { max: 3 } }, /^hilt\.config\.json: reports\.max: unknown field: reports takes keep$/],
    ['a relative budget in the wrong unit', { budgets: { heap_peak_used: '<= baseline + 5 ms' } }, /^hilt\.config\.json: budgets\.heap_peak_used: ms does not measure heap_peak_used \(a size\)$/],
    ['a relative budget below the baseline', { budgets: { tls_ms: '<= baseline - 10%' } }, /^hilt\.config\.json: budgets\.tls_ms: "<= baseline - 10%" is not a budget: write "<= 2000" \(ms\), "<= 48 KiB" \(bytes\) or "<= baseline \+ 10%"$/],
    ['a relative budget with a huge margin', { budgets: { tls_ms: `<= baseline + ${'9'.repeat(400)} ms` } }, /^hilt\.config\.json: budgets\.tls_ms: "<= baseline \+ 9+ ms" is not a budget: the margin is too large$/],
    ['target and targets both', { target: 'emulator', targets: ['emulator'] }, /^hilt\.config\.json: targets: give either target or targets, not both: put every board in targets$/],
    ['an empty list of targets', { targets: [] }, /^hilt\.config\.json: targets: expected a list of targets, like \["serial:\/dev\/ttyUSB0", "serial:\/dev\/ttyUSB1"\]$/],
    ['targets as one string', { targets: 'emulator' }, /^hilt\.config\.json: targets: expected a list of targets/],
    ['a target in the list that is not a string', { targets: ['emulator', 3] }, /^hilt\.config\.json: targets\[1\]: expected a non-empty string$/],
    ['a target in the list on two lines', { targets: ['emulator\nx'] }, /^hilt\.config\.json: targets\[0\]: "emulator\\nx" has a control character: write it on one line, without escapes$/],
    ['eachTarget as a string', { eachTarget: 'yes' }, /^hilt\.config\.json: eachTarget: expected true \(the whole catalogue on each target\) or false \(split across them\)$/],
  ];
  for (const [what, raw, message] of mistakes) {
    it(`refuses ${what}, in one line`, function () {
      expect(refusal(raw)).to.match(message);
    });
  }
});
