/**
 * Faults of a run, with real parts: a report folder that cannot be one, a disk that fills, a
 * signal at each phase of `hilt run` (real child processes, signalled on what they print or do),
 * and a board that panics and never answers again. Each ends with one line and the documented
 * exit status, and — from the moment the run's folder exists — with a report.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { HILT_BIN, REPO, hilt, latestResults, scriptedAgent, type ScriptedAgent, tempDir, writeScenario } from '../helpers.ts';
import { expectOneCleanLine, fill, smallDisks } from './helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');
const TWO = [HAPPY, join(REPO, 'scenarios', '05-wrong-ca.spec.ts')];

/** A previous run's report, with `latest` pointing at it: what CI would read if nothing moved it. */
async function previousRun(dir: string): Promise<void> {
  await mkdir(join(dir, 'reports', 'old-run'), { recursive: true });
  await writeFile(join(dir, 'reports', 'old-run', 'results.json'), JSON.stringify({ schema: 1, run: { id: 'old-run' } }));
  await symlink('old-run', join(dir, 'reports', 'latest'));
}

interface Child {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Exit code, or 128 + the signal's number if the signal killed it (as a shell reports it). */
  exited: Promise<number>;
}

/** `hilt ...` as a child process (`nodeArgs` go to Node, before hilt's entry point). */
function start(args: string[], cwd: string, nodeArgs: string[] = []): Child {
  const child = spawn(process.execPath, [...nodeArgs, HILT_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : -1))));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Resolves when the child's stdout has printed `pattern` (bounded). */
function printed(c: Child, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never printed ${pattern}:\n${c.stdout()}\n${c.stderr()}`)), timeoutMs);
    const check = () => {
      if (!pattern.test(c.stdout())) return;
      clearTimeout(timer);
      c.child.stdout!.off('data', check);
      resolve();
    };
    c.child.stdout!.on('data', check);
    check();
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

describe('faults: runs', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  const servers: Server[] = [];
  const agents: ScriptedAgent[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-faults-runs-'));
  });
  afterEach(async function () {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers.splice(0)) s.close();
    for (const a of agents.splice(0)) a.close();
    await remove();
  });

  /** A device that accepts the connection and never says a word; resolves on each connection. */
  async function silentDevice(): Promise<{ port: number; connected: Promise<void>; connections: () => number }> {
    let count = 0;
    let connectedNow!: () => void;
    const connected = new Promise<void>((resolve) => { connectedNow = resolve; });
    const server = createServer((socket) => {
      count += 1;
      socket.on('error', () => {});
      connectedNow();
    });
    servers.push(server);
    return { port: await listen(server), connected, connections: () => count };
  }

  describe('a report folder that cannot be one', function () {
    it('under /proc: exit 2 at once with one line, and the device is never contacted', async function () {
      const device = await silentDevice();
      const { code, stderr } = await hilt(['run', HAPPY, '--target', `tcp:127.0.0.1:${device.port}`, '--report-dir', '/proc/hilt-reports'], { cwd: dir, timeoutMs: 20_000 });
      expect(code).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.match(/^hilt: cannot create \/proc\/hilt-reports\/\S+ \(ENOENT\): .*--report-dir/);
      expect(device.connections()).to.equal(0);
    });

    it('a file where the folder should be: exit 2 with one line naming it', async function () {
      await writeFile(join(dir, 'reports'), 'not a folder\n');
      const device = await silentDevice();
      const { code, stderr } = await hilt(['run', HAPPY, '--target', `tcp:127.0.0.1:${device.port}`], { cwd: dir, timeoutMs: 20_000 });
      expect(code).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.include(`cannot create ${join(dir, 'reports')}`).and.include('ENOTDIR');
      expect(device.connections()).to.equal(0);
    });

    it('a latest that is a real folder: exit 2 before the run starts', async function () {
      await mkdir(join(dir, 'reports', 'latest'), { recursive: true });
      const device = await silentDevice();
      const { code, stderr } = await hilt(['run', HAPPY, '--target', `tcp:127.0.0.1:${device.port}`], { cwd: dir, timeoutMs: 20_000 });
      expect(code).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.include('is not a link: move it away');
      // No run took place: no promise of reports, and no empty run folder left behind.
      expect(stderr).to.not.include("the run's reports are in");
      expect(await readdir(join(dir, 'reports'))).to.deep.equal(['latest']);
      expect(device.connections()).to.equal(0);
    });
  });

  describe('a disk that fills (a small tmpfs; needs root and mount)', function () {
    const mountSmallDisk = smallDisks();
    const smallDisk = (ctx: Mocha.Context, size: string) => mountSmallDisk(ctx, join(dir, 'reports'), size);

    it('full before the run: exit 2 naming the folder and ENOSPC, nothing started', async function () {
      const at = await smallDisk(this, '64k');
      await fill(at);
      const device = await silentDevice();
      const { code, stderr } = await hilt(['run', HAPPY, '--target', `tcp:127.0.0.1:${device.port}`], { cwd: dir, timeoutMs: 20_000 });
      expect(code).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.match(/cannot (create|write in) .*reports\/\S+ \(ENOSPC\)/);
      expect(device.connections()).to.equal(0);
    });

    it('full during the run: console logs and reports fail with one line and exit 3, no crash', async function () {
      const at = await smallDisk(this, '256k');
      const file = await writeScenario(dir, 'fills.spec.ts', `
import { writeFileSync } from 'node:fs';
describe('a disk that fills', () => {
  scenario('fills the report folder', async (ctx) => {
    // The firmware's console goes on while the disk is full.
    try { writeFileSync(${JSON.stringify(join(at, 'filler'))}, Buffer.alloc(1024 * 1024)); } catch { /* ENOSPC: full */ }
    await ctx.device.command('hello');
  });
  scenario('connects while the disk is full', async (ctx) => {
    const result = await ctx.connect('good');
    await ctx.disconnect(result);
  });
});`);
      const { code, stderr, stdout } = await hilt(['run', file], { cwd: dir, timeoutMs: 40_000 });
      expect(code, stdout + stderr).to.equal(3);
      expectOneCleanLine(stderr);
      expect(stderr).to.match(/^hilt: cannot write report \S+reports\/\S+\/junit\.xml \(ENOSPC\)/);
      // Both scenarios ran: the full disk did not stop the run, only its record.
      expect(stdout).to.match(/2 passing/);
    });
  });

  it('a console log that cannot be written: the run goes on, the scenario notes it, one line and exit 3', async function () {
    // The first scenario puts a folder where the second one's console log goes.
    const file = await writeScenario(dir, 'logs.spec.ts', `
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
describe('logs', () => {
  scenario('first', async () => { mkdirSync(join(process.cwd(), 'reports', 'latest', 'console', 'logs--logs-second.log')); });
  scenario('second', async (ctx) => { await ctx.device.command('hello'); });
});`);
    const { code, stderr, stdout } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stdout + stderr).to.equal(3);
    expectOneCleanLine(stderr);
    expect(stderr).to.match(/^hilt: console logs could not be written: console\/logs--logs-second\.log \(EISDIR\); the other reports are in /);
    const r = await latestResults(dir);
    expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['passed', 'passed']);
    expect(r.scenarios[1]!.notes).to.deep.equal(['console log console/logs--logs-second.log could not be written (EISDIR)']);
  });

  describe('a signal at each phase of a run', function () {
    it('while the device is being opened: exit 130, a report listing every scenario as not run, latest moved to it', async function () {
      await previousRun(dir);
      const device = await silentDevice();
      const c = start(['run', ...TWO, '--target', `tcp:127.0.0.1:${device.port}`], dir);
      children.push(c.child);
      await device.connected; // the runner is waiting for the device's hello
      c.child.kill('SIGINT');
      expect(await c.exited, c.stderr()).to.equal(130);
      const r = await latestResults(dir);
      expect(r.run.id).to.not.equal('old-run');
      expect(r.run.cutShort).to.equal('interrupted (SIGINT)');
      expect(r.scenarios.length).to.be.above(1);
      for (const s of r.scenarios) expect(s.failure).to.deep.equal({ kind: 'not-run', message: 'not run: the run was interrupted (SIGINT) before this scenario began' });
      expect(c.stdout()).to.match(/cut short: interrupted \(SIGINT\)/);
    });

    it('SIGTERM while the device is being opened: the same, saying SIGTERM', async function () {
      await previousRun(dir);
      const device = await silentDevice();
      const c = start(['run', HAPPY, '--target', `tcp:127.0.0.1:${device.port}`], dir);
      children.push(c.child);
      await device.connected;
      c.child.kill('SIGTERM');
      expect(await c.exited).to.equal(130);
      const r = await latestResults(dir);
      expect(r.run.cutShort).to.equal('interrupted (SIGTERM)');
      expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['skipped']);
    });

    it('while the scenario files load: exit 130 and a report of scenarios not run', async function () {
      await previousRun(dir);
      await writeFile(join(dir, 'package.json'), '{"type": "module"}\n'); // top-level await
      // A scenario file that says when it is being loaded, and takes a moment to load.
      const file = await writeScenario(dir, 'slow-load.spec.ts', `
process.stdout.write('loading slow-load\\n');
await new Promise((resolve) => setTimeout(resolve, 1500));
describe('slow to load', () => { scenario('runs after a slow load', async () => {}); });`);
      const c = start(['run', file], dir);
      children.push(c.child);
      await printed(c, /loading slow-load/);
      c.child.kill('SIGINT');
      expect(await c.exited, c.stderr()).to.equal(130);
      const r = await latestResults(dir);
      expect(r.run.id).to.not.equal('old-run');
      expect(r.run.cutShort).to.equal('interrupted (SIGINT)');
      expect(r.scenarios.map((s) => [s.title, s.outcome])).to.deep.equal([['slow to load runs after a slow load', 'skipped']]);
    });

    it('once the last scenario has run (the reports being written): exit 130, the report complete and latest on it', async function () {
      await previousRun(dir);
      // A preload that holds the first report file's write until the signal has come, and says
      // when it got there: the interrupt lands while the reports are written, never after the
      // process has already finished them.
      const preload = `data:text/javascript,import fsp from 'node:fs/promises'; import { syncBuiltinESMExports } from 'node:module';
const write = fsp.writeFile; let held = false;
fsp.writeFile = async (path, ...rest) => {
  if (!held && /(results\\.json|summary\\.md|junit\\.xml)\\.[0-9a-f]+\\.tmp$/.test(String(path))) {
    held = true; const signalled = new Promise((resolve) => process.once('SIGINT', resolve));
    process.stdout.write('writing reports\\n'); await signalled;
  }
  return write(path, ...rest);
};
syncBuiltinESMExports();`;
      const c = start(['run', HAPPY], dir, [`--import=${preload}`]);
      children.push(c.child);
      await printed(c, /writing reports/);
      c.child.kill('SIGINT');
      expect(await c.exited, c.stderr()).to.equal(130);
      const r = await latestResults(dir);
      expect(r.run.id).to.not.equal('old-run');
      expect(r.totals).to.deep.equal({ passed: 1, failed: 0, error: 0, skipped: 0 });
      expect(await readlink(join(dir, 'reports', 'latest'))).to.equal(r.run.id);
    });

    it('while hilt itself loads: exit 130 with one line saying there is nothing to report', async function () {
      await previousRun(dir);
      // A preload that says when the first SIGINT listener goes in: bin/hilt.js's guard, set
      // before tsx and hilt load. The signal is sent on that line.
      const preload = `data:text/javascript,const on = process.on.bind(process); let said = false;
process.on = (event, listener) => { const added = on(event, listener); if (event === 'SIGINT' && !said) { said = true; process.stdout.write('first SIGINT listener\\n'); } return added; };`;
      const c = start(['run', HAPPY], dir, [`--import=${preload}`]);
      children.push(c.child);
      await printed(c, /first SIGINT listener/);
      c.child.kill('SIGINT');
      // (a death by the signal itself would read 130 too: the guard's own exit is told by its line)
      expect(await c.exited, c.stderr()).to.equal(130);
      const err = c.stderr();
      if (err === 'hilt: interrupted (SIGINT): stopped with nothing to report\n') {
        // hilt was still loading, as it is for hundreds of ms after the guard: no run, reports/ as it was.
        expect(await readlink(join(dir, 'reports', 'latest'))).to.equal('old-run');
      } else {
        // (only on a machine so loaded that the run took over first: then it reported)
        expect((await latestResults(dir)).run.cutShort).to.equal('interrupted (SIGINT)');
      }
    });
  });

  describe('a board that panics and never comes back', function () {
    /**
     * A scripted agent (protocol v1 over TCP, reset by the agent): answers what the runner asks,
     * boots on `reset`, and on `heap.stats` prints a Guru Meditation and goes silent for good.
     */
    async function panickingAgent(): Promise<{ port: number; afterPanic: string[] }> {
      const afterPanic: string[] = [];
      let dead = false;
      const agent = await scriptedAgent((command, reply, socket) => {
        if (dead) {
          afterPanic.push(command);
          return true;
        }
        if (command === 'reset') {
          socket.write('@hil * boot {"proto":1,"reason":"software"}\n');
          return true;
        }
        if (command === 'heap.stats') {
          socket.write("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n");
          dead = true;
          return true;
        }
        return false;
      });
      agents.push(agent);
      return { port: agent.port, afterPanic };
    }

    it('the scenarios after it are device errors, decided after one wait, and the run exits 3', async function () {
      const agent = await panickingAgent();
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { commandMs: 500, helloMs: 500, scenarioMs: 30_000 } }));
      const file = await writeScenario(dir, 'panics.spec.ts', `
describe('a board that dies', () => {
  for (const n of [1, 2, 3, 4]) {
    scenario('reads the heap ' + n, async (ctx) => { await ctx.device.command('heap.stats'); });
  }
});`);
      const { code, stderr } = await hilt(['run', file, '--target', `tcp:127.0.0.1:${agent.port}`], { cwd: dir, timeoutMs: 40_000 });
      expect(code, stderr).to.equal(3);
      const r = await latestResults(dir);
      expect(r.scenarios.map((s) => [s.outcome, s.failure?.kind])).to.deep.equal([
        ['failed', 'panic'], ['error', 'infrastructure'], ['error', 'infrastructure'], ['error', 'infrastructure'],
      ]);
      expect(r.run.infrastructureError).to.match(/^device tcp:127\.0\.0\.1:\d+ stopped answering: no boot event from the device within 500 ms$/);
      expect(r.scenarios[1]!.failure!.message).to.equal(r.run.infrastructureError);
      for (const s of r.scenarios.slice(2)) expect(s.failure!.message).to.equal(`not run: ${r.run.infrastructureError}`);
      // Decided fast: after the panic the runner tried the board once, not once per scenario.
      expect(agent.afterPanic).to.deep.equal(['reset']);
      expect(stderr).to.match(/stopped answering/);
    });
  });
});
