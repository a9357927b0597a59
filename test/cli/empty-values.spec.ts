/**
 * Empty option values and arguments: refused with one line and exit 2 before anything runs.
 * An empty path is the current folder: `hilt certs --dir ''` once wrote the whole PKI there.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { hilt, tempDir } from '../helpers.ts';

/** [command line, the flag or argument the one line names]. */
const CASES: Array<[string[], string]> = [
  [['certs', '--dir', ''], '--dir "": empty value: give <dir>, or leave --dir out (default: certs)'],
  [['certs', '--host', ''], '--host "": empty value: give <name-or-ip>, or leave --host out'],
  [['certs', '--host', 'bench.local', '--host', ''], '--host "": empty value'],
  [['certs', '--dir', '', 'device', 'bench-01'], '--dir "": empty value'],
  [['certs', 'device', ''], 'certs device "": empty <id>: give one'],
  [['broker', '--dir', ''], '--dir "": empty value'],
  [['broker', '--host', ''], '--host "": empty value: give <address>, or leave --host out (default: 127.0.0.1)'],
  [['broker', '--port-base', ''], '--port-base "": empty value'],
  [['broker', '--profiles', ''], '--profiles "": empty value'],
  [['broker', '--profiles', ','], '--profiles ",": names no profile'],
  [['emulate', '--tcp', ''], '--tcp "": empty value'],
  [['emulate', '--sdkconfig', ''], '--sdkconfig "": empty value'],
  [['emulate', '--count', ''], '--count "": empty value'],
  [['emulate', '--heap', ''], '--heap "": empty value'],
  [['run', '--target', ''], '--target "": empty value'],
  [['run', '--grep', ''], '--grep "": empty value: give <regexp>, or leave --grep out'],
  [['run', '--repeat', ''], '--repeat "": empty value'],
  [['run', '--report-dir', ''], '--report-dir "": empty value'],
  [['run', '--certs', ''], '--certs "": empty value'],
  [['run', '--config', ''], '--config "": empty value'],
  [['run', ''], 'run "": empty <files>: give one'],
];

describe('hilt command line: empty values', function () {
  let cwd: string;
  let remove: () => Promise<void>;
  before(async function () {
    ({ dir: cwd, remove } = await tempDir());
  });
  after(() => remove());

  it('refuses each with one line naming the flag and exit 2, and writes nothing', async function () {
    this.timeout(120_000);
    // Four at a time: each is a whole hilt start-up.
    const outcomes: Array<{ args: string[]; code: number; stderr: string; stdout: string }> = [];
    for (let i = 0; i < CASES.length; i += 4) {
      outcomes.push(...await Promise.all(CASES.slice(i, i + 4).map(async ([args]) => ({ args, ...await hilt(args, { cwd, timeoutMs: 20_000 }) }))));
    }
    for (const [i, [args, says]] of CASES.entries()) {
      const { code, stderr, stdout } = outcomes[i]!;
      const what = `hilt ${args.map((a) => JSON.stringify(a)).join(' ')}`;
      expect(code, `${what}: ${stderr}${stdout}`).to.equal(2);
      const lines = stderr.trim().split('\n');
      expect(lines, `${what}: ${stderr}`).to.have.length(1);
      expect(lines[0]!.startsWith(`hilt: ${says}`), `${what}: ${lines[0]}`).to.equal(true);
    }
    expect(await readdir(cwd), 'nothing written into the working folder').to.deep.equal([]);
  });
});
