/**
 * The lazy command table of harness/cli/main.ts: `hilt --help` lists every command without
 * loading any, and the list must read exactly as it would with every command loaded.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMMANDS, buildProgram, commandNamed, main } from '../../harness/cli/main.ts';
import { HiltError, UsageError } from '../../harness/errors.ts';
import { HILT_BIN, REPO, run, tempDir } from '../helpers.ts';

describe('hilt command table', function () {
  it('--help lists the commands as the loaded commands describe themselves', async function () {
    const lazy = await buildProgram();
    const loaded = await buildProgram('all');
    expect(lazy.helpInformation()).to.equal(loaded.helpInformation());
    expect(loaded.commands.map((c) => c.name())).to.deep.equal(COMMANDS.map((c) => c.name));
  });

  it('a named command is loaded in full, the others stay stand-ins', async function () {
    const program = await buildProgram(new Set(['run']));
    const [run, ...rest] = program.commands;
    expect(run!.options.map((o) => o.long)).to.include('--target');
    for (const other of rest) expect([other.options, other.commands], other.name()).to.deep.equal([[], []]);
  });

  // Found by test/faults/fuzz.spec.ts: main.ts required by mocha loads its commands with import(),
  // a second copy of errors.ts, and took their usage errors for internal errors (exit 1, a stack).
  it('a command\'s usage error from the other copy of hilt\'s modules: one line, exit 2', async function () {
    const copy: string = '../../harness/errors.ts?other-copy';
    const { HiltError: OtherHiltError, UsageError: OtherUsageError } = await import(copy) as typeof import('../../harness/errors.ts');
    expect(OtherHiltError).to.not.equal(HiltError);
    expect(new OtherUsageError('x')).to.be.instanceOf(HiltError);
    expect(new HiltError('x')).to.not.be.instanceOf(UsageError);
    let stderr = '';
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => { stderr += chunk; return true; }) as typeof process.stderr.write;
    try {
      expect(await main(['node', 'hilt', 'run', 'no-such.spec.ts'])).to.equal(2);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr).to.equal('hilt: scenario file no-such.spec.ts does not exist (from the command line): give a file, a folder or a glob such as hil/*.spec.ts\n');
  });

  it('finds the command an argument list names, as commander reads it', function () {
    expect(commandNamed([])).to.equal(undefined);
    expect(commandNamed(['--help'])).to.equal(undefined);
    expect(commandNamed(['-V'])).to.equal(undefined);
    expect(commandNamed(['run', '--target', 'emulator:'])).to.equal('run');
    expect(commandNamed(['--help', 'certs'])).to.equal('certs');
    expect(commandNamed(['help', 'broker'])).to.equal('broker');
    expect(commandNamed(['help'])).to.equal(undefined);
    expect(commandNamed(['--', 'emulate', 'x'])).to.equal('emulate');
    expect(commandNamed(['frobnicate'])).to.equal('frobnicate');
  });
});

describe('hilt start-up: what loads', function () {
  let dir: string;
  let remove: () => Promise<void>;
  before(async function () {
    ({ dir, remove } = await tempDir());
    // A resolve hook that writes down every module of hilt's that bin/hilt.js loads: appended
    // synchronously, since hilt exits as soon as the command is done.
    const base = pathToFileURL(REPO).href.replace(/\/?$/, '/');
    await writeFile(join(dir, 'hook.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.startsWith(${JSON.stringify(base)})) appendFileSync(process.env.HILT_LOADED_LOG, resolved.url.slice(${base.length}) + '\\n');
  return resolved;
}
`);
    await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
  });
  after(() => remove());

  async function loadedBy(args: string[]): Promise<string[]> {
    const log = join(dir, `loaded-${args.join('-')}.log`);
    const ran = await run(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, HILT_BIN, ...args], { cwd: dir, env: { ...process.env, HILT_LOADED_LOG: log } });
    expect(ran.code, ran.stderr).to.equal(0);
    return (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('harness/') || l.startsWith('emulator/'));
  }

  it('hilt --help loads main.ts and none of the commands', async function () {
    const loaded = await loadedBy(['--help']);
    expect(loaded).to.include('harness/cli/main.ts');
    expect(loaded.filter((f) => /^harness\/cli\/(?!main|args)/.test(f) || /^harness\/(run|lab|device|pki|report)\//.test(f) || f.startsWith('emulator/'))).to.deep.equal([]);
  });

  it('hilt help broker loads the broker command and no other', async function () {
    const loaded = await loadedBy(['help', 'broker']);
    expect(loaded).to.include('harness/cli/broker.ts');
    expect(loaded.filter((f) => /^harness\/cli\/(run|certs|endpoint|emulate|flash|ports|native)\.ts$/.test(f))).to.deep.equal([]);
  });
});
