/** `"reports": {"keep": N}`: the oldest finished run folders go; what a user or a run still needs stays. */
import { expect } from 'chai';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pruneReports } from '../../harness/run/retention.ts';
import { tempDir } from '../helpers.ts';

describe('report retention', function () {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => { ({ dir, remove } = await tempDir('hilt-keep-')); });
  afterEach(() => remove());

  const id = (minute: number) => `2026-12-01T05-${String(minute).padStart(2, '0')}-00Z-00aa`;
  async function finished(minute: number): Promise<string> {
    const run = join(dir, id(minute));
    await mkdir(join(run, 'console'), { recursive: true });
    await writeFile(join(run, 'results.json'), '{}');
    return run;
  }
  const left = async () => (await readdir(dir)).sort();

  it('keeps the newest N run folders (by the time in their id), removes the older ones', async function () {
    for (const minute of [3, 1, 4, 2, 5]) await finished(minute);
    const pruned = await pruneReports(dir, 2);
    expect(pruned.removed.map((p) => p.slice(dir.length + 1))).to.deep.equal([id(1), id(2), id(3)]);
    expect(pruned.failed).to.deep.equal([]);
    expect(await left()).to.deep.equal([id(4), id(5)]);
  });

  it('spares the run latest points at, the current run, and a baseline, however old', async function () {
    for (const minute of [1, 2, 3, 4, 5]) await finished(minute);
    await symlink(id(1), join(dir, 'latest'));
    await pruneReports(dir, 1, [join(dir, id(5)), join(dir, id(2))]);
    expect(await left()).to.deep.equal([id(1), id(2), id(5), 'latest']);
  });

  it('leaves alone what is not a finished run: a run still going (no results.json), other folders and files', async function () {
    await finished(1);
    await mkdir(join(dir, id(2)));
    await finished(3);
    await mkdir(join(dir, 'release-1.4.0'));
    await writeFile(join(dir, 'README.md'), 'mine');
    await symlink(join(dir, id(3)), join(dir, '2026-12-01T04-00-00Z-0bbb'));
    const pruned = await pruneReports(dir, 1);
    expect(pruned.removed.map((p) => p.slice(dir.length + 1))).to.deep.equal([id(1)]);
    expect(await left()).to.deep.equal(['2026-12-01T04-00-00Z-0bbb', id(2), id(3), 'README.md', 'release-1.4.0']);
  });

  it('a reports dir that is not there: nothing removed, the reason as a warning', async function () {
    const pruned = await pruneReports(join(dir, 'nope'), 1);
    expect(pruned.removed).to.deep.equal([]);
    expect(pruned.failed).to.deep.equal([`${join(dir, 'nope')} (ENOENT)`]);
  });
});
