/**
 * Faults of a run on several boards, with real parts (emulated boards, a TCP port nobody listens
 * on, real child processes and signals): a board that cannot be opened, a board whose process dies
 * mid-run, Ctrl-C while every board is mid-scenario, and targets that cannot make one run. The
 * other boards go on, the run ends with one report and the documented exit status, and no board's
 * process outlives it.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { RunResults } from '../../harness/report/model.ts';
import { HILT_BIN, hilt, latestResults, tempDir, writeScenario } from '../helpers.ts';
import { expectOneCleanLine } from './helpers.ts';

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The `hilt run` processes whose parent is `pid` (read from /proc): the boards. (tsx's esbuild
 * service is a child too; it leaves on its own once its parent is gone.)
 */
async function boardsOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // (the command name in parentheses may hold spaces: the fields after its last ')' are fixed)
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (ppid === pid && args.includes(HILT_BIN) && args.includes('run')) found.push(Number(entry));
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once `count` files are in `dir` (each a scenario saying it is under way), bounded. */
function filesIn(dir: string, count: number, timeoutMs = 60_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const timer = setTimeout(() => { watcher.close(); reject(new Error(`fewer than ${count} files in ${dir} after ${timeoutMs} ms`)); }, timeoutMs);
    const check = async () => {
      const names = (await readdir(dir)).filter((n) => !n.startsWith('.'));
      if (names.length < count) return;
      clearTimeout(timer);
      watcher.close();
      resolve(names);
    };
    watcher.on('change', () => { void check(); });
    void check();
  });
}

/**
 * Resolves once `done()` holds, looking again every 50 ms, bounded: a process's exit seen from
 * outside its family has no event to wait on.
 */
async function until(done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('faults: several boards', function () {
  this.timeout(120_000);
  let dir: string;
  let remove: () => Promise<void>;
  const children: ChildProcess[] = [];

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-faults-boards-'));
  });
  afterEach(async function () {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await remove();
  });

  /**
   * Scenarios that say when they are under way: each puts a file named after its board's device
   * id (holding its process's pid) into `marks`, then waits on the lab's stall listener, which
   * never answers, for up to 30 s.
   */
  async function stallingScenarios(marks: string, titles: string[]): Promise<string> {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(marks);
    return writeScenario(dir, 'stalls.spec.ts', `
import { renameSync, writeFileSync } from 'node:fs';
describe('stalls', () => {
  for (const title of ${JSON.stringify(titles)}) {
    scenario(title, async (ctx) => {
      if (!title.includes('stall')) return;
      // (written aside and renamed in: the test never reads a mark before its pid is in it)
      writeFileSync(${JSON.stringify(marks)} + '/.' + ctx.deviceId, String(process.pid));
      renameSync(${JSON.stringify(marks)} + '/.' + ctx.deviceId, ${JSON.stringify(marks)} + '/' + ctx.deviceId);
      await ctx.connect('stall', { timeoutMs: 30000 });
    });
  }
});`);
  }

  it('a board that cannot be opened: its scenarios are errors naming it, the other board runs its own, exit 3', async function () {
    const port = await closedPort();
    const file = await writeScenario(dir, 'quick.spec.ts', `
describe('quick', () => {
  for (const n of [1, 2, 3, 4]) scenario('says hello ' + n, async (ctx) => { await ctx.device.command('hello'); });
});`);
    const { code, stdout, stderr } = await hilt(['run', file, '--target', 'emulator', '--target', `tcp:127.0.0.1:${port}`], { cwd: dir, timeoutMs: 100_000 });
    expect(code, stdout + stderr).to.equal(3);
    const r = await latestResults(dir);
    expect(r.scenarios.map((s) => [s.board, s.outcome])).to.deep.equal([['b1', 'passed'], ['b2', 'error'], ['b1', 'passed'], ['b2', 'error']]);
    const b2 = r.run.boards![1]!;
    expect(b2.infrastructureError).to.equal(`device tcp 127.0.0.1:${port}: tcp:127.0.0.1:${port} refused the connection: is the board (QEMU, ser2net) running?`);
    for (const s of r.scenarios.filter((x) => x.board === 'b2')) expect(s.failure!.message).to.equal(`not run: ${b2.infrastructureError}`);
    expect(r.run.infrastructureError).to.equal(`board b2 (tcp:127.0.0.1:${port}): ${b2.infrastructureError}`);
    expect(r.run.boards![0]!.infrastructureError).to.equal(null);
    expectOneCleanLine(stderr);
    expect(stderr).to.include('board b2');
  });

  it('a board whose process dies mid-run: what it reported stays, its scenario under way is an error saying why, the other board finishes', async function () {
    const marks = join(dir, 'marks');
    // Sorted ids deal a1, b1 to board 1 (quick) and a2, b2 to board 2, whose b2 stalls until its process is killed.
    const file = await stallingScenarios(marks, ['a1 quick', 'a2 quick', 'b1 quick', 'b2 stalls']);
    const c = spawn(process.execPath, [HILT_BIN, 'run', file, '--target', 'emulator', '--target', 'emulator'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => c.once('exit', resolve));
    const [mark] = await filesIn(marks, 1);
    expect(mark).to.equal('esp32-000001-b2');
    const boardPid = Number(await readFile(join(marks, mark!), 'utf8'));
    expect(boardPid).to.be.above(1); // (never 0: that would signal this process's own group)
    process.kill(boardPid, 'SIGKILL');
    expect(await exited, out).to.equal(3);
    const r = await latestResults(dir);
    const outcomes = Object.fromEntries(r.scenarios.map((s) => [`${s.title}@${s.board}`, s.outcome]));
    expect(outcomes).to.deep.equal({ 'stalls a1 quick@b1': 'passed', 'stalls a2 quick@b2': 'passed', 'stalls b1 quick@b1': 'passed', 'stalls b2 stalls@b2': 'error' });
    const why = 'board b2 (emulator) was killed by SIGKILL before writing its report';
    expect(r.scenarios.find((s) => s.title === 'stalls b2 stalls')!.failure!.message).to.equal(`not run to its end: ${why}`);
    expect(r.run.boards![1]!.infrastructureError).to.equal(why);
    expect(out).to.include(why);
  });

  it('Ctrl-C while both boards are mid-scenario: exit 130, every board\'s report and the run\'s written, no board process left', async function () {
    const marks = join(dir, 'marks');
    const file = await stallingScenarios(marks, ['stall 1', 'stall 2', 'stall 3', 'stall 4']);
    const c = spawn(process.execPath, [HILT_BIN, 'run', file, '--target', 'emulator', '--target', 'emulator'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => c.once('exit', resolve));
    await filesIn(marks, 2); // each board's first scenario waits on the stalled listener
    const boards = await boardsOf(c.pid!);
    expect(boards, 'one process per board').to.have.length(2);
    c.kill('SIGINT');
    expect(await exited, out).to.equal(130);
    for (const pid of boards) expect(alive(pid), `board process ${pid}`).to.equal(false);
    const r = await latestResults(dir);
    expect(r.run.cutShort).to.equal('interrupted (SIGINT)');
    expect(r.scenarios).to.have.length(4);
    for (const s of r.scenarios) {
      if (s.outcome === 'skipped') expect(s.failure).to.deep.equal({ kind: 'not-run', message: 'not run: the run was interrupted (SIGINT) before this scenario began' });
      else expect(s.failure, s.id).to.deep.equal({ ...s.failure, kind: 'infrastructure', message: 'run interrupted (SIGINT) while this scenario ran' });
    }
    // Both were under way when the signal came: each board's report says so of its own.
    expect(r.scenarios.filter((s) => s.outcome === 'error').map((s) => s.board).sort()).to.deep.equal(['b1', 'b2']);
    for (const b of ['b1', 'b2']) {
      const own = JSON.parse(await readFile(join(dir, 'reports', 'latest', b, 'results.json'), 'utf8')) as { run: { cutShort: string } };
      expect(own.run.cutShort).to.equal('interrupted (SIGINT)');
    }
    expect(existsSync(join(dir, 'reports', 'latest', 'junit.xml'))).to.equal(true);
  });

  it('Ctrl-C while the boards\' processes still load: exit 130, their scenarios not run, and no bench error blamed on them', async function () {
    const marks = join(dir, 'marks');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(marks);
    const file = await writeScenario(dir, 'quick.spec.ts', `describe('quick', () => { for (const n of [1, 2]) scenario('hello ' + n, async (ctx) => { await ctx.device.command('hello'); }); });`);
    // A preload (Node passes it on to the boards, fork() keeps execArgv) that, in a board's
    // process only, says when bin/hilt.js's interrupt guard goes in: hilt is still loading then.
    const preload = `data:text/javascript,import { writeFileSync } from 'node:fs';
if (process.env.HILT_BOARD) { const on = process.on.bind(process); let said = false;
process.on = (event, listener) => { const added = on(event, listener); if (event === 'SIGINT' && !said) { said = true; writeFileSync(${JSON.stringify(marks)} + '/' + process.pid, ''); } return added; }; }`;
    const c = spawn(process.execPath, [`--import=${preload}`, HILT_BIN, 'run', file, '--target', 'emulator', '--target', 'emulator'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => c.once('exit', resolve));
    await filesIn(marks, 2);
    c.kill('SIGINT');
    expect(await exited, out).to.equal(130);
    const r = await latestResults(dir);
    expect(r.run.cutShort).to.equal('interrupted (SIGINT)');
    for (const b of r.run.boards!) {
      if (existsSync(join(dir, 'reports', 'latest', b.dir!, 'results.json'))) continue; // (a board that had begun its run reported it)
      // A board stopped while hilt loaded began nothing: not a device or lab fault.
      expect(b.infrastructureError, b.id).to.equal(null);
      for (const s of r.scenarios.filter((x) => x.board === b.id)) {
        expect(s.failure).to.deep.equal({ kind: 'not-run', message: 'not run: the run was interrupted (SIGINT) before this scenario began' });
      }
    }
    expect(r.run.infrastructureError).to.equal(null);
  });

  it('the run\'s own process killed outright (SIGKILL): each board stops as if interrupted and still writes its report', async function () {
    const marks = join(dir, 'marks');
    const file = await stallingScenarios(marks, ['stall 1', 'stall 2']);
    const c = spawn(process.execPath, [HILT_BIN, 'run', file, '--target', 'emulator', '--target', 'emulator'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    // (the marks are named after each board's device id and hold its process's pid)
    const boardPids = await Promise.all((await filesIn(marks, 2)).map(async (m) => Number(await readFile(join(marks, m), 'utf8'))));
    for (const pid of boardPids) expect(pid).to.be.above(1);
    c.kill('SIGKILL');
    await exited;
    // Each board notices its parent is gone (the IPC channel closes) and ends as on SIGTERM:
    // its process exits once its report is written.
    for (const pid of boardPids) await until(() => !alive(pid), `board process ${pid} to exit`);
    const runDir = join(dir, 'reports', 'latest');
    for (const b of ['b1', 'b2']) {
      const own = JSON.parse(await readFile(join(runDir, b, 'results.json'), 'utf8')) as RunResults;
      expect(own.run.cutShort).to.equal('interrupted (SIGTERM)');
    }
  });

  describe('targets that cannot make one run: exit 2 with one line, before any board starts', function () {
    const cases: Array<[string, (port: number) => string[], RegExp]> = [
      ['the same TCP board twice', (p) => ['--target', `tcp:127.0.0.1:${p}`, '--target', `tcp:127.0.0.1:${p}`],
        /^hilt: --target "tcp:127\.0\.0\.1:\d+" is given twice: a board can be opened by one run once; give each board once$/],
      ['an agent board with a firmware board', () => ['--target', 'emulator', '--target', 'emulator:?firmware=app'],
        /^hilt: --target: emulator is in agent mode and emulator:\?firmware=app in firmware mode: the boards of one run run the same scenarios: give targets of one mode$/],
      ['a bad second target', () => ['--target', 'emulator', '--target', 'usb:x'], /^hilt: --target usb:x: unknown kind "usb"/],
      ['--flash with two boards', () => ['--target', 'emulator', '--target', 'emulator', '--flash', 'build'], /^hilt: --flash takes one target/],
    ];
    for (const [what, args, message] of cases) {
      it(what, async function () {
        const port = await closedPort();
        const { code, stderr } = await hilt(['run', ...args(port)], { cwd: dir, timeoutMs: 30_000 });
        expect(code, stderr).to.equal(2);
        expectOneCleanLine(stderr);
        expect(stderr.trim()).to.match(message);
        expect(existsSync(join(dir, 'reports'))).to.equal(false);
      });
    }
  });
});
