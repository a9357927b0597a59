/**
 * hilt as a firmware team gets it: the tarball `npm pack` makes, installed with npm into a
 * project of their own (ES module and CommonJS), its commands run through npx, hilt's catalogue
 * run from the package, and the team's own scenarios importing from 'hilt'.
 *
 * Installs are offline, from the npm cache that CI's `npm ci` filled. npm 11 resolves a new
 * dependency with full registry documents, which `npm ci` never fetches, so each project starts
 * with a lockfile holding hilt's runtime packages as hilt's own lockfile pins them (as a firmware
 * repository with a lockfile would); `npm install <tarball>` then needs only tarballs.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import type { RunResults } from '../../harness/report/model.ts';
import { checkToolchain, nativeCacheRoot } from '../../harness/native/build.ts';
import { REPO, tempDir, type Ran } from '../helpers.ts';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  private?: boolean; files?: string[]; engines?: Record<string, string>; bin?: Record<string, string>;
  exports?: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string>;
};

/** The environment of npm and npx children: none of the npm_* settings of an `npm test` around us. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/** Runs a program to completion, bounded, with `env`. */
function sh(file: string, args: string[], cwd: string, options: { timeoutMs?: number; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd, env, timeout: options.timeoutMs ?? 30_000, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

const npx = (cwd: string, args: string[], options: { timeoutMs?: number; input?: string } = {}) => sh('npx', ['--no', '--', 'hilt', ...args], cwd, options);

async function results(project: string): Promise<RunResults> {
  return JSON.parse(await readFile(join(project, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
}

/** hilt's runtime packages as its lockfile pins them: the `packages` of a consumer's lockfile. */
function runtimeLock(name: string): object {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const packages: Record<string, unknown> = { '': { name, version: '1.0.0' } };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  return { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

/** A firmware project of the given module kind with hilt installed from the tarball. */
async function project(root: string, tarball: string, kind: 'module' | 'commonjs'): Promise<string> {
  const dir = join(root, kind === 'module' ? 'fw-esm' : 'fw-cjs');
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: `fw-${kind}`, version: '1.0.0', private: true, ...(kind === 'module' ? { type: 'module' } : {}) }));
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify(runtimeLock(`fw-${kind}`)));
  const installed = await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--save-dev', tarball], dir, { timeoutMs: 120_000 });
  if (installed.code !== 0) throw new Error(`npm install of ${tarball} failed (exit ${installed.code}): ${installed.stderr}`);
  return dir;
}

const PASSING = `describe('own: mutual TLS', () => {
  scenario('connects to the good listener', async (ctx) => {
    const result = await ctx.connect('good');
    expect(result).to.be.connected();
    await ctx.disconnect(result);
  });
});
`;
const FAILING = `describe('own: a wrong expectation', () => {
  scenario('expects a rogue broker to be accepted', async (ctx) => {
    expect(await ctx.connect('rogue')).to.be.connected();
  });
});
`;

/** The team's own scenarios in hil/, in every way that module kind allows, named in hilt.config.json. */
async function ownScenarios(dir: string, kind: 'module' | 'commonjs'): Promise<void> {
  await mkdir(join(dir, 'hil'));
  await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ scenarios: 'hil' }));
  if (kind === 'module') {
    await writeFile(join(dir, 'hil', 'a-passing.spec.ts'), `import { expect, scenario } from 'hilt';\n${PASSING}`);
    await writeFile(join(dir, 'hil', 'b-failing.spec.js'), `import { expect, scenario } from 'hilt';\n${FAILING}`);
  } else {
    // TypeScript that tsx compiles to require(), and plain CommonJS.
    await writeFile(join(dir, 'hil', 'a-passing.spec.ts'), `import { expect, scenario } from 'hilt';\n${PASSING}`);
    await writeFile(join(dir, 'hil', 'b-failing.spec.cjs'), `const { expect, scenario } = require('hilt');\n${FAILING}`);
  }
}

/** Fails the test unless the own-scenario run passed the first and failed the second (exit 1). */
async function expectOwnRun(dir: string): Promise<void> {
  const ran = await npx(dir, ['run'], { timeoutMs: 60_000 });
  expect(ran.code, ran.stderr + ran.stdout).to.equal(1);
  const r = await results(dir);
  expect(r.scenarios.map((s) => [s.file, s.outcome])).to.deep.equal([
    ['hil/a-passing.spec.ts', 'passed'],
    [r.scenarios[1]!.file, 'failed'],
  ]);
  expect(r.scenarios[1]!.file).to.match(/^hil\/b-failing\.spec\.c?js$/);
  // Ids drop the .spec.* suffix whatever the file kind, so a file may change language and keep its ids.
  expect(r.scenarios.map((s) => s.id.split('/')[0])).to.deep.equal(['a-passing', 'b-failing']);
  // hilt's own assertion plugin, in the copy this module kind loaded.
  expect(r.scenarios[1]!.failure!.message).to.match(/^expected the device to connect, but it failed: .*NOT_TRUSTED/);
}

describe('hilt installed from its package', function () {
  this.timeout(60_000);
  let root: string;
  let remove: () => Promise<void>;
  let tarball: string;
  let packed: string[];

  before(async function () {
    this.timeout(60_000);
    ({ dir: root, remove } = await tempDir('hilt-install-'));
    const made = await sh('npm', ['pack', '--json', '--pack-destination', root], REPO, { timeoutMs: 60_000 });
    expect(made.code, made.stderr).to.equal(0);
    const [info] = JSON.parse(made.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(root, info!.filename);
    packed = info!.files.map((f) => f.path).sort();
  });
  after(async () => {
    await remove?.();
    // postpack removes the build; a pack cut short (a timeout) would leave it, and bin/hilt.js
    // would then run a stale dist/ instead of this checkout's sources.
    await rm(join(REPO, 'dist'), { recursive: true, force: true });
  });

  describe('the package', function () {
    it('is publishable: not private, a files list, engines, exports beside bin, a licence', async function () {
      expect(pkg.private).to.equal(undefined);
      expect(pkg.files).to.be.an('array').that.is.not.empty;
      expect(pkg.engines?.node).to.match(/^>=20/);
      expect(pkg.bin).to.deep.equal({ hilt: 'bin/hilt.js' });
      expect(pkg.exports?.['.']).to.equal('./harness/index.ts');
      expect(await readFile(join(REPO, 'LICENSE'), 'utf8')).to.match(/^MIT License\n\nCopyright \(c\) \d{4} the hilt authors\n/);
    });

    it('the tarball holds the program, the catalogue, the docs and the licence; no tests, benches, CI scripts or untracked files', async function () {
      for (const needed of ['LICENSE', 'README.md', 'package.json', 'bin/hilt.js', 'harness/index.ts', 'harness/cli/main.ts', 'emulator/index.ts', 'scenarios/01-mtls-happy-path.spec.ts', 'docs/scenarios.md',
        'dist/harness/cli/main.js', 'dist/harness/index.js', 'dist/harness/run/compiled-hooks.js', 'dist/emulator/index.js']) {
        expect(packed).to.include(needed);
      }
      expect(packed.filter((f) => /^(test|bench|\.ci|certs|reports|node_modules)\//.test(f) || /^\.|\/\./.test(f))).to.deep.equal([]);
      // The build is the packing's own (prepack), and postpack removes it: a checkout runs from source.
      expect(existsSync(join(REPO, 'dist')), 'dist/ left in the checkout after npm pack').to.equal(false);
      const git = await sh('git', ['ls-files'], REPO);
      if (git.code !== 0) this.skip(); // not a git checkout (an unpacked tarball): nothing to compare with
      const tracked = new Set(git.stdout.split('\n'));
      // Built files come from tracked sources, one for one.
      const untracked = packed.filter((f) => !tracked.has(f) && f !== 'package.json');
      expect(untracked.filter((f) => !/^dist\/.*\.js$/.test(f) || !tracked.has(f.replace(/^dist\/(.*)\.js$/, '$1.ts')))).to.deep.equal([]);
      const sources = [...tracked].filter((f) => /^(harness|emulator)\/.*\.ts$/.test(f));
      expect(sources.filter((f) => !packed.includes(`dist/${f.replace(/\.ts$/, '.js')}`))).to.deep.equal([]);
    });

    it('every package the program imports at run time is a dependency, not a devDependency', function () {
      const imported = new Set<string>();
      const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) walk(path);
          else if (/\.(ts|js)$/.test(entry.name)) {
            // Imports and dynamic imports of bare names; type-only imports are erased by tsx.
            for (const m of readFileSync(path, 'utf8').matchAll(/^(?!import type)(?:import|export)\b[^;]*?\bfrom\s+'([^'.][^']*)'|\bimport\('([^'.][^']*)'\)|^import\s+'([^'.][^']*)'/gm)) {
              const spec = (m[1] ?? m[2] ?? m[3])!;
              if (spec.startsWith('node:')) continue;
              const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
              if (!pkg.dependencies[name]) throw new Error(`${relative(REPO, path)} imports ${spec}, which is not in dependencies`);
              imported.add(name);
            }
          }
        }
      };
      for (const dir of ['bin', 'harness', 'emulator', 'scenarios']) walk(join(REPO, dir));
      expect([...imported].sort()).to.include.members(['aedes', 'chai', 'commander', 'mocha', 'tsx']);
    });
  });

  describe('in an ES module project', function () {
    let dir: string;
    before(async function () {
      this.timeout(150_000);
      dir = await project(root, tarball, 'module');
    });

    it('npx hilt --help lists the commands', async function () {
      const { code, stdout } = await npx(dir, ['--help']);
      expect(code).to.equal(0);
      for (const command of ['run', 'certs', 'broker', 'emulate']) expect(stdout).to.match(new RegExp(`^  ${command} `, 'm'));
    });

    it('runs compiled: --help, --version and a run with the command line\'s and the runner\'s sources out of the way', async function () {
      // What only the compiled build can run without: bin/hilt.js falls back to source when
      // dist/ is missing, so a run that works with these sources gone ran from dist/.
      const hilt = join(dir, 'node_modules', 'hilt');
      const hidden = [join(hilt, 'harness', 'cli'), join(hilt, 'harness', 'run', 'runner.ts')];
      for (const path of hidden) await rename(path, `${path}.hidden`);
      try {
        const help = await npx(dir, ['--help']);
        expect(help.code, help.stderr).to.equal(0);
        expect(help.stdout).to.match(/^  run \[options\] \[files\.\.\.\] /m);
        const version = await npx(dir, ['--version']);
        expect(version.code, version.stderr).to.equal(0);
        expect(version.stdout.trim()).to.equal(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
        const one = join(hilt, 'scenarios', '01-mtls-happy-path.spec.ts');
        const ran = await npx(dir, ['run', '--target', 'emulator:', '--report-dir', 'compiled-reports', one], { timeoutMs: 60_000 });
        expect(ran.code, ran.stderr + ran.stdout).to.equal(0);
        const r = JSON.parse(await readFile(join(dir, 'compiled-reports', 'latest', 'results.json'), 'utf8')) as RunResults;
        expect(r.scenarios.map((s) => [s.file, s.outcome])).to.deep.equal([['hilt/scenarios/01-mtls-happy-path.spec.ts', 'passed']]);
        // A scenario's 'hilt' is the compiled module the runner loaded, not a copy made for
        // require (mocha requires scenario files; harness/run/typescript.ts).
        await mkdir(join(dir, 'one-copy'));
        await writeFile(join(dir, 'one-copy', 'a.spec.ts'), `import { expect, scenario } from 'hilt';
describe('one copy', () => {
  scenario('of hilt', async () => {
    expect(scenario === (await import('hilt')).scenario, 'the same scenario() as import() gives').to.equal(true);
  });
});
`);
        const once = await npx(dir, ['run', '--target', 'emulator:', '--report-dir', 'compiled-reports', 'one-copy/a.spec.ts'], { timeoutMs: 60_000 });
        expect(once.code, once.stderr + once.stdout).to.equal(0);
      } finally {
        for (const path of hidden) await rename(`${path}.hidden`, path);
      }
    });

    it('hilt certs --dir x writes the lab PKI there, private keys 0600', async function () {
      const { code, stderr } = await npx(dir, ['certs', '--dir', 'x']);
      expect(code, stderr).to.equal(0);
      const manifest = JSON.parse(await readFile(join(dir, 'x', 'manifest.json'), 'utf8')) as { artifacts: Array<{ name: string; files?: Record<string, string> }> };
      expect(manifest.artifacts.map((a) => a.name)).to.include.members(['root-current', 'server-valid', 'client-valid']);
      const keys = readdirSync(join(dir, 'x'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.key'));
      expect(keys).to.include(join('server', 'valid.key'));
      for (const key of keys) expect(((await stat(join(dir, 'x', key))).mode & 0o777).toString(8), key).to.equal('600');
    });

    it('hilt emulate answers hello on stdin', async function () {
      const { code, stdout } = await npx(dir, ['emulate'], { input: '@hil 1 hello\n' });
      expect(code).to.equal(0);
      const reply = /^@hil 1 ok (\{.*\})$/m.exec(stdout);
      expect(reply, stdout).to.not.equal(null);
      expect(JSON.parse(reply![1]!)).to.include({ proto: 1 });
    });

    it('hilt broker --json --port-base 0 serves until Ctrl-C, then closes its ports', async function () {
      // Ctrl-C in a terminal reaches the whole foreground process group: npx and hilt under it.
      const child = spawn('npx', ['--no', '--', 'hilt', 'broker', '--json', '--port-base', '0', '--dir', 'lab'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
      const guard = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
      try {
        let out = '';
        const ports = await new Promise<number[]>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (!/"type":"ready"/.test(out)) return;
            resolve(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; port?: number })
              .filter((l) => l.type === 'listener').map((l) => l.port!));
          });
          void exited.then(() => reject(new Error(`broker exited before it was ready: ${out}`)));
        });
        expect(ports).to.have.length.above(10);
        process.kill(-child.pid!, 'SIGINT');
        const [code, signal] = await exited;
        expect(code === 0 || code === 130 || signal === 'SIGINT', `exit ${code} ${signal}`).to.equal(true);
        const refused = await new Promise<string>((resolve) => {
          const socket = connect(ports[0]!, '127.0.0.1');
          socket.once('connect', () => { socket.destroy(); resolve('connected'); });
          socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        });
        expect(refused).to.equal('ECONNREFUSED');
      } finally {
        clearTimeout(guard);
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      }
    });

    it('hilt native build builds Mbed TLS from the sources the package ships', async function () {
      this.timeout(20 * 60_000);
      // The tarball a build in the default cache fetched, so this needs no network; without one, or
      // without a toolchain, test/native/mbedtls.spec.ts says why and this has nothing to add.
      const tarball = join(nativeCacheRoot(), 'downloads', 'mbedtls_3.6.6.orig.tar.bz2');
      const ready = await checkToolchain().then(() => stat(tarball)).then(() => true, () => false);
      if (!ready) {
        console.log(`      skipped: no C toolchain for -m32 or no ${tarball} (npx hilt native build makes one)`);
        this.skip();
      }
      const cache = join(root, 'native-cache');
      const built = await new Promise<Ran>((resolve) => {
        execFile('npx', ['--no', '--', 'hilt', 'native', 'build', '--json'], {
          cwd: dir, env: { ...env, HILT_NATIVE_CACHE: cache, HILT_MBEDTLS_TARBALL: tarball }, timeout: 19 * 60_000, killSignal: 'SIGKILL', encoding: 'utf8',
        }, (err, stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout, stderr }));
      });
      expect(built.code, built.stderr).to.equal(0);
      const report = JSON.parse(built.stdout) as { mbedtls: { dir: string; facts: { version: string; pointerBits: number } } };
      expect(report.mbedtls.facts).to.include({ version: '3.6.6', pointerBits: 32 });
      expect(report.mbedtls.dir.startsWith(cache)).to.equal(true);
    });

    it('hilt run runs hilt\'s catalogue from the package: exit 0, report written, files shown as hilt/scenarios/...', async function () {
      const ran = await npx(dir, ['run'], { timeoutMs: 60_000 });
      expect(ran.code, ran.stderr + ran.stdout).to.equal(0);
      const r = await results(dir);
      const catalogue = readdirSync(join(REPO, 'scenarios')).filter((f) => f.endsWith('.spec.ts'));
      expect(new Set(r.scenarios.map((s) => s.file))).to.deep.equal(new Set(catalogue.map((f) => `hilt/scenarios/${f}`)));
      expect(r.totals.failed + r.totals.error).to.equal(0);
      expect(await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8')).to.match(/<testsuites name="hilt" tests="\d+" failures="0" errors="0"/);
    });

    it('hilt run runs the project\'s own scenarios (TypeScript and JavaScript, importing from \'hilt\'): one passes, one fails, exit 1', async function () {
      await ownScenarios(dir, 'module');
      await expectOwnRun(dir);
    });
  });

  describe('in a CommonJS project', function () {
    let dir: string;
    before(async function () {
      this.timeout(150_000);
      dir = await project(root, tarball, 'commonjs');
    });

    it('npx hilt --help', async function () {
      const { code, stdout } = await npx(dir, ['--help']);
      expect(code).to.equal(0);
      expect(stdout).to.match(/^Usage: hilt /);
    });

    it('hilt run runs the project\'s own scenarios (TypeScript compiled to require, and .cjs): one passes, one fails, exit 1', async function () {
      await ownScenarios(dir, 'commonjs');
      await expectOwnRun(dir);
    });
  });
});
