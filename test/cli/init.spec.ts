/**
 * `hilt init` in a fresh git repository, as a firmware team would run it: what it writes, that
 * git then ignores the lab's keys and the reports, that the example scenario passes on the
 * emulator, and that it never overwrites a file without --force.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configJsonSchema, validateConfig } from '../../harness/run/config.ts';
import { WORKFLOW } from '../../harness/cli/init-files.ts';
import type { RunResults } from '../../harness/report/model.ts';
import { REPO, hilt, run, tempDir } from '../helpers.ts';
import { expectOneCleanLine } from '../faults/helpers.ts';

describe('hilt init', function () {
  this.timeout(120_000);
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-init-'));
    expect((await run('git', ['init', '-q'], { cwd: dir })).code).to.equal(0);
  });
  afterEach(() => remove());

  it('sets up hil/, the workflow and .gitignore; the example scenario passes on the emulator', async function () {
    // A team's .gitignore, its last line without a newline.
    await writeFile(join(dir, '.gitignore'), 'build/\nsdkconfig.old');
    const { code, stdout, stderr } = await hilt(['init'], { cwd: dir });
    expect(code, stderr).to.equal(0);
    expect(stdout).to.include('wrote hil/hilt.config.json');

    const written = JSON.parse(await readFile(join(dir, 'hil', 'hilt.config.json'), 'utf8')) as Record<string, unknown>;
    expect(written.$schema).to.equal('./hilt.config.schema.json');
    // The config hilt writes is one hilt reads, "$schema" included.
    expect(validateConfig(written, 'hil/hilt.config.json').target).to.equal('emulator');
    const schema = JSON.parse(await readFile(join(dir, 'hil', 'hilt.config.schema.json'), 'utf8')) as unknown;
    expect(schema).to.deep.equal(JSON.parse(JSON.stringify(configJsonSchema())));
    expect(await readFile(join(dir, '.github', 'workflows', 'hil.yml'), 'utf8')).to.equal(WORKFLOW);

    expect(await readFile(join(dir, '.gitignore'), 'utf8')).to.match(/^build\/\nsdkconfig\.old\n# hilt: .*\n\/hil\/certs\/\n\/hil\/reports\/\n$/);
    // Git itself agrees: the keys and the reports stay out, the rest goes in.
    const ignored = await run('git', ['check-ignore', '--no-index', 'hil/certs/ca/root.key', 'hil/reports/latest', 'hil/hilt.config.json'], { cwd: dir });
    expect(ignored.stdout.trim().split('\n')).to.deep.equal(['hil/certs/ca/root.key', 'hil/reports/latest']);

    // hilt as the team installs it: node_modules/hilt (here a link to this checkout).
    await mkdir(join(dir, 'node_modules'));
    await symlink(REPO, join(dir, 'node_modules', 'hilt'));
    const ran = await hilt(['run'], { cwd: join(dir, 'hil'), timeoutMs: 90_000 });
    expect(ran.code, ran.stdout + ran.stderr).to.equal(0);
    expect(ran.stdout).to.include('2 passed, 0 failed, 0 errors, 0 skipped');
    const results = JSON.parse(await readFile(join(dir, 'hil', 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
    expect(results.scenarios.map((s) => [s.file, s.outcome])).to.deep.equal([
      ['scenarios/01-example.spec.ts', 'passed'], ['scenarios/01-example.spec.ts', 'passed'],
    ]);
    expect(results.scenarios.flatMap((s) => s.metrics.map((m) => m.budget?.expression)).filter(Boolean)).to.include('tls_ms <= 2000');
    const status = await run('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: dir });
    expect(status.stdout).to.not.match(/hil\/(certs|reports)\//);
  });

  it('refuses to overwrite any file it would write, naming it, and writes nothing; --force overwrites, .gitignore lines are not repeated', async function () {
    await mkdir(join(dir, '.github', 'workflows'), { recursive: true });
    await writeFile(join(dir, '.github', 'workflows', 'hil.yml'), 'name: ours\n');
    const refused = await hilt(['init'], { cwd: dir });
    expect(refused.code).to.equal(2);
    expectOneCleanLine(refused.stderr);
    expect(refused.stderr).to.match(/^hilt: \.github\/workflows\/hil\.yml exists: hilt init leaves it alone; move it away, or pass --force/);
    expect(await readdir(dir)).to.not.include('hil');
    expect(await readdir(dir)).to.not.include('.gitignore');
    expect(await readFile(join(dir, '.github', 'workflows', 'hil.yml'), 'utf8')).to.equal('name: ours\n');

    const forced = await hilt(['init', '--force'], { cwd: dir });
    expect(forced.code, forced.stderr).to.equal(0);
    expect(await readFile(join(dir, '.github', 'workflows', 'hil.yml'), 'utf8')).to.equal(WORKFLOW);
    const again = await hilt(['init', '.', '--force'], { cwd: dir });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.include('ignores hil/certs/ and hil/reports/ already');
    expect((await readFile(join(dir, '.gitignore'), 'utf8')).match(/\/hil\/certs\//g)).to.have.length(1);
  });

  it('a .gitignore that ignores certs/ at any depth already gets only reports', async function () {
    await writeFile(join(dir, '.gitignore'), 'certs/\n');
    const { code, stderr } = await hilt(['init', dir]);
    expect(code, stderr).to.equal(0);
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).to.match(/^certs\/\n# hilt: .*\n\/hil\/reports\/\n$/);
  });

  it('a folder that is not there, or a file: one line, exit 2', async function () {
    for (const [target, line] of [['no-such-repo', /^hilt: no-such-repo: does not exist: give your firmware repository's folder$/m], ['.gitignore', /^hilt: \.gitignore is not a folder/]] as const) {
      if (target === '.gitignore') await writeFile(join(dir, '.gitignore'), '');
      const { code, stderr } = await hilt(['init', target], { cwd: dir });
      expect(code).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.match(line);
    }
  });

  it('a .gitignore that cannot be read stops it before anything is written', async function () {
    await mkdir(join(dir, '.gitignore'));
    const { code, stderr } = await hilt(['init'], { cwd: dir });
    expect(code).to.equal(2);
    expectOneCleanLine(stderr);
    expect(stderr).to.match(/^hilt: cannot read \.gitignore \(EISDIR\): it must be a file .* nothing was written$/m);
    expect((await readdir(dir)).sort()).to.deep.equal(['.git', '.gitignore']);
  });

  it('docs/ci.md shows the workflow hilt init writes, and its GitHub and GitLab files are YAML with the jobs they name', async function () {
    const docs = await readFile(join(REPO, 'docs', 'ci.md'), 'utf8');
    expect(docs).to.include(WORKFLOW);
    const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks).to.have.length(2);
    // PyYAML, a parser hilt does not use, reads each block (the jobs, or GitLab's top-level keys).
    const script = 'import sys, yaml, json; d = yaml.safe_load(sys.stdin); print(json.dumps(list(d.get("jobs", d))))';
    const keys: string[][] = [];
    for (const block of blocks) {
      // Debian's python3 (where .ci/run installs python3-yaml), else whichever is on PATH.
      const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
      const parsed = await run(python, ['-c', script], { input: block }).catch(() => null);
      if (!parsed || /No module named .?yaml/.test(parsed.stderr)) {
        console.log('      (skipped: python3 with PyYAML is needed to parse the workflows)');
        this.skip();
      }
      expect(parsed.code, parsed.stderr).to.equal(0);
      keys.push(JSON.parse(parsed.stdout) as string[]);
    }
    expect(keys).to.deep.equal([['scenarios', 'report'], ['stages', 'hil', 'hil-report']]);
  });
});
