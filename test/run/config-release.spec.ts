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

  const mistakes: Array<[string, unknown, RegExp]> = [
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
