/**
 * The fidelity table's generator (test/native/fidelity-table.ts) on bad input: one line on
 * stderr naming the file and the fix, exit 2, the file untouched; never a stack trace. These
 * fail before any build, so they need no C toolchain.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, run, tempDir } from '../helpers.ts';

const SCRIPT = join(REPO, 'test/native/fidelity-table.ts');
const generate = (file: string) => run(process.execPath, ['--import', 'tsx', SCRIPT, file], { cwd: REPO, timeoutMs: 60_000 });

describe('faults: the fidelity table generator', function () {
  this.timeout(90_000);

  it('a file without the table markers: one line, exit 2, the file left as it was', async () => {
    const { dir, remove } = await tempDir();
    try {
      const file = join(dir, 'fidelity.md');
      await writeFile(file, '# notes\n');
      const ran = await generate(file);
      expect(ran.code).to.equal(2);
      expect(ran.stderr).to.match(/^fidelity-table: \S+fidelity\.md has no "<!-- fidelity-table:begin .*" \.\.\. "<!-- fidelity-table:end -->" markers: add them where the table goes\n$/);
      expect(await readFile(file, 'utf8')).to.equal('# notes\n');
    } finally {
      await remove();
    }
  });

  it('a file that does not exist: one line naming it, exit 2', async () => {
    const ran = await generate('/nonexistent/fidelity.md');
    expect(ran.code).to.equal(2);
    expect(ran.stderr).to.equal('fidelity-table: cannot read /nonexistent/fidelity.md (ENOENT): give the path of docs/fidelity.md\n');
  });
});
