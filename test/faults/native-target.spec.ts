/**
 * `hilt run --target native` where the native target cannot be had: no C toolchain to build the
 * host agent on first use, options the agent does not take. One line on stderr, exit 2, no stack,
 * no half-built folder in the cache, no scenario run. And Ctrl-C during that first build: exit 130
 * at once, the build stopped, not finished first. An agent that dies mid-run is a device error
 * (exit 3) that says how it died.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildMbedtls, checkToolchain, NativeBuildError } from '../../harness/native/build.ts';
import { HILT_BIN, latestResults, run, tempDir, writeScenario } from '../helpers.ts';
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

  it('Ctrl-C during the first-use build stops the build: exit 130, nothing built, no compiler left running', async function () {
    let tarball: string;
    try {
      await checkToolchain();
      // The pinned tarball from the default cache (fetched once), so this build needs no network.
      tarball = join((await buildMbedtls()).dir, '..', 'downloads', 'mbedtls_3.6.6.orig.tar.bz2');
    } catch (err) {
      if (!(err instanceof NativeBuildError)) throw err;
      console.log(`    (skipped: ${err.message})`);
      return this.skip();
    }
    const child = spawn(process.execPath, [HILT_BIN, 'run', '--target', 'native', '--certs', join(tmp.dir, 'certs')], {
      cwd: tmp.dir, env: { ...process.env, HILT_NATIVE_CACHE: cache(), HILT_MBEDTLS_TARBALL: tarball }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 100_000); // a bound, not an expectation
    try {
      // Interrupted once the library's build has begun (the line comes before make starts).
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (/building Mbed TLS/.test(stdout)) resolve();
        });
        void exited.then(() => reject(new Error(`hilt run exited before building: ${stdout}${stderr}`)));
      });
      child.kill('SIGINT');
      expect(await exited, stdout + stderr).to.equal(130);
    } finally {
      clearTimeout(killer);
    }
    expect(stderr).to.not.match(/\n\s+at |internal error/);
    const left = await readdir(cache());
    expect(left.filter((f) => /^(mbedtls|agent)-[^.]+$/.test(f) || f.includes('.partial-')), left.join(', ')).to.deep.equal([]);
    // The build's make ran in its own process group under the cache folder: none of it is left.
    const ps = await run('ps', ['-eo', 'args']);
    expect(ps.stdout.split('\n').filter((l) => l.includes(cache()))).to.deep.equal([]);
  });

  it('the agent killed during a scenario: exit 3, the run says how it died, the scenarios after it are not run', async function () {
    try {
      await checkToolchain();
      await buildMbedtls(); // the default cache, as a user's run has it
    } catch (err) {
      if (!(err instanceof NativeBuildError)) throw err;
      console.log(`    (skipped: ${err.message})`);
      return this.skip();
    }
    // The scenario kills hilt's own child, the agent, as the kernel's OOM killer might.
    const file = await writeScenario(tmp.dir, 'dies.spec.ts', `
import { execFileSync } from 'node:child_process';
describe('an agent that dies', () => {
  scenario('is killed', async (ctx) => {
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    const agent = children.split('\\n').find((l) => l.includes('/hilt-agent'));
    if (!agent) throw new Error('no agent among ' + children);
    process.kill(Number(agent.trim().split(' ')[0]), 'SIGKILL');
    await ctx.device.command('hello');
  });
  scenario('comes after', async (ctx) => { await ctx.device.command('hello'); });
});`);
    const r = await run(process.execPath, [HILT_BIN, 'run', '--target', 'native', '--certs', join(tmp.dir, 'certs'), file], { cwd: tmp.dir, timeoutMs: 110_000 });
    expect(r.code, r.stdout + r.stderr).to.equal(3);
    expect(r.stderr).to.not.match(/\n\s+at |internal error/);
    const results = await latestResults(tmp.dir);
    expect(results.run.infrastructureError, String(results.run.infrastructureError)).to.match(/process \S*native\/agent-\S* was killed by SIGKILL/);
    expect(results.run.infrastructureError).to.match(/: the host agent exited: its last output is in the console log \(npx hilt native build rebuilds it\)$/);
    // The two scenarios and nothing else: a hook under way when the loss came adds no result.
    const shown = JSON.stringify(results.scenarios.map((s) => [s.title, s.outcome, s.failure?.message]));
    expect(results.scenarios.map((s) => [s.title, s.outcome]), shown).to.deep.equal([
      ['an agent that dies is killed', 'error'], ['an agent that dies comes after', 'error'],
    ]);
    expect(results.scenarios[1]!.failure!.message).to.match(/^not run: /);
  });
});
