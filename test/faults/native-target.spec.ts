/**
 * `hilt run --target native` where the native target cannot be had: no C toolchain to build the
 * host agent on first use, options the agent does not take. One line on stderr, exit 2, no stack,
 * no half-built folder in the cache, no scenario run.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HILT_BIN, run, tempDir } from '../helpers.ts';
import { expectOneCleanLine } from './helpers.ts';

describe('native target faults', function () {
  this.timeout(120_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  const cache = () => join(tmp.dir, 'cache');
  const hiltRun = (target: string, env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [HILT_BIN, 'run', '--target', target, '--certs', join(tmp.dir, 'certs')], {
      cwd: tmp.dir, timeoutMs: 110_000, env: { ...process.env, HILT_NATIVE_CACHE: cache(), ...env },
    });

  beforeEach(async () => { tmp = await tempDir(); });
  afterEach(async () => { await tmp.remove(); });

  it('no C compiler for the first-use build: exit 2, one line naming the packages, nothing left that looks built', async () => {
    const r = await hiltRun('native', { CC: join(tmp.dir, 'no-such-cc') });
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expectOneCleanLine(r.stderr);
    expect(r.stderr).to.match(/^hilt: target native: native build: \S*no-such-cc not found .*apt-get install .*gcc-multilib/);
    // The folder is named only once a build succeeded: what is left is at most the lock and log.
    const left = await readdir(cache()).catch(() => [] as string[]);
    expect(left.filter((f) => /^(mbedtls|agent)-[^.]+$/.test(f)), left.join(', ')).to.deep.equal([]);
    expect(r.stdout, 'no scenario ran').to.not.match(/passing|failing/);
  });

  for (const [target, why] of [
    ['native:?heap=5', /heap=5: give a whole number from 16384/],
    ['native:?mac=02:00:00:00:00:09', /unknown option "mac"/],
  ] as const) {
    it(`${target}: exit 2, one line, before anything is built`, async () => {
      const r = await hiltRun(target);
      expect(r.code).to.equal(2);
      expectOneCleanLine(r.stderr);
      expect(r.stderr).to.match(why);
      expect(await readdir(cache()).catch(() => [] as string[])).to.deep.equal([]);
    });
  }
});
