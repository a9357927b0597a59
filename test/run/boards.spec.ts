/**
 * `hilt run` on several boards: the split (stable, by sorted id), the one report made from the
 * boards' (pure, on hand-made boards), the progress lines (plain off a terminal), and real runs on
 * two and four emulated boards, split and with --each-target, through the command line as a user runs it.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { combineBoards, splitAcross, type BoardRun } from '../../harness/run/boards.ts';
import { Progress } from '../../harness/run/progress.ts';
import type { RunResults, ScenarioResult } from '../../harness/report/model.ts';
import { hilt, latestResults, tempDir, writeScenario } from '../helpers.ts';

describe('several boards in one run', function () {
  describe('the split', function () {
    it('sorts the ids and deals them out in turn: board i mod n, whatever order they came in', function () {
      const ids = ['c/x', 'a/x', 'e/x', 'b/x', 'd/x'];
      expect(splitAcross(ids, 2)).to.deep.equal([['a/x', 'c/x', 'e/x'], ['b/x', 'd/x']]);
      expect(splitAcross([...ids].reverse(), 2)).to.deep.equal(splitAcross(ids, 2));
      expect(splitAcross(ids, 4)).to.deep.equal([['a/x', 'e/x'], ['b/x'], ['c/x'], ['d/x']]);
    });

    it('gives every id to exactly one board, the counts differing by one at most', function () {
      const ids = Array.from({ length: 23 }, (_, i) => `s${i}/t`);
      for (const n of [1, 2, 3, 4, 7]) {
        const parts = splitAcross(ids, n);
        expect(parts.flat().sort()).to.deep.equal([...ids].sort());
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
      }
    });

    it('sorts by code unit, not by locale: the same split on every machine', function () {
      expect(splitAcross(['b', 'B', 'a', 'A'], 2)).to.deep.equal([['A', 'a'], ['B', 'b']]);
    });
  });

  describe('one report from the boards\'', function () {
    const scenario = (id: string, outcome: ScenarioResult['outcome']): ScenarioResult => ({
      id, title: id, file: 'f.spec.ts', outcome, durationMs: 5, repetitions: 1, failure: null, metrics: [], attempts: [], consoleLog: `console/${id}.log`,
    });
    const boardResults = (scenarios: ScenarioResult[], run: Partial<RunResults['run']> = {}): RunResults => ({
      schema: 1,
      run: {
        id: 'x', hiltVersion: '1.2.3', target: 'emulator', startedAt: '', endedAt: '', durationMs: 0, cutShort: null, infrastructureError: null,
        warnings: [], notes: [], firmware: null, security: null, fingerprints: { trust: [], served: [] }, ...run,
      },
      scenarios, totals: { passed: 0, failed: 0, error: 0, skipped: 0 },
    });
    const planned = (...ids: string[]) => ids.map((id) => ({ id, title: id, file: 'f.spec.ts' }));
    const when = { id: 'run', started: new Date(0), ended: new Date(1000), repeat: 1, interrupted: null, catalogue: ['a', 'b', 'c', 'd'] };

    it('tags each scenario with its board and its console log with the board\'s folder, in the catalogue\'s order', function () {
      const boards: BoardRun[] = [
        { id: 'b1', index: 1, target: 'emulator', dir: 'b1', planned: planned('a', 'c'), deviceId: 'esp32-000001', results: boardResults([scenario('a', 'passed'), scenario('c', 'failed')]), reported: [], stopped: null },
        { id: 'b2', index: 2, target: 'emulator', dir: 'b2', planned: planned('b'), deviceId: 'esp32-000001-b2', results: boardResults([scenario('b', 'passed')]), reported: [], stopped: null },
      ];
      const r = combineBoards(boards, when);
      expect(r.scenarios.map((s) => [s.id, s.board, s.consoleLog])).to.deep.equal([
        ['a', 'b1', 'b1/console/a.log'], ['b', 'b2', 'b2/console/b.log'], ['c', 'b1', 'b1/console/c.log'],
      ]);
      expect(r.totals).to.deep.equal({ passed: 2, failed: 1, error: 0, skipped: 0 });
      expect(r.run.boards!.map((b) => [b.id, b.deviceId, b.dir, b.infrastructureError])).to.deep.equal([
        ['b1', 'esp32-000001', 'b1', null], ['b2', 'esp32-000001-b2', 'b2', null],
      ]);
      expect(r.run).to.include({ target: 'emulator emulator', cutShort: null, infrastructureError: null, hiltVersion: '1.2.3', repeat: 1 });
    });

    it('a board that died keeps what it reported, and what it never reported is an error naming why; the others are untouched', function () {
      const why = 'board b2 (emulator) was killed by SIGKILL before writing its report';
      const r = combineBoards([
        { id: 'b1', index: 1, target: 'emulator', dir: 'b1', planned: planned('a', 'c'), deviceId: 'd1', results: boardResults([scenario('a', 'passed'), scenario('c', 'passed')]), reported: [], stopped: null },
        { id: 'b2', index: 2, target: 'emulator', dir: 'b2', planned: planned('b', 'd'), deviceId: 'd2', results: null, reported: [scenario('b', 'passed')], stopped: why },
      ], when);
      expect(r.scenarios.map((s) => [s.id, s.board, s.outcome])).to.deep.equal([['a', 'b1', 'passed'], ['b', 'b2', 'passed'], ['c', 'b1', 'passed'], ['d', 'b2', 'error']]);
      expect(r.scenarios[3]!.failure).to.deep.equal({ kind: 'infrastructure', message: `not run to its end: ${why}` });
      expect(r.run.infrastructureError).to.equal(`board b2 (emulator): ${why}`);
      expect(r.run.cutShort).to.equal(`b2: ${why}`);
      expect(r.run.boards![1]!.infrastructureError).to.equal(why);
    });

    it('an interrupt: what no board reported was skipped, not a bench error', function () {
      const r = combineBoards([
        { id: 'b1', index: 1, target: 'emulator', dir: 'b1', planned: planned('a'), deviceId: null, results: null, reported: [], stopped: null },
      ], { ...when, interrupted: 'interrupted (SIGINT)' });
      expect(r.scenarios[0]).to.include({ outcome: 'skipped', board: 'b1' });
      expect(r.scenarios[0]!.failure).to.deep.equal({ kind: 'not-run', message: 'not run: the run was interrupted (SIGINT) before this scenario began' });
      expect(r.run.cutShort).to.equal('interrupted (SIGINT)');
      expect(r.run.boards![0]!.deviceId).to.equal('unknown');
    });
  });

  describe('progress', function () {
    const result = (id: string, outcome: ScenarioResult['outcome'], message?: string) => ({ id, outcome, durationMs: 1234, failure: message ? { kind: 'assertion' as const, message } : null });
    function capture(isTTY: boolean): { out: { write: (t: string) => void; isTTY: boolean; columns: number }; text: () => string } {
      let text = '';
      return { out: { write: (t: string) => { text += t; }, isTTY, columns: 200 }, text: () => text };
    }

    it('off a terminal: one plain line per scenario as it ends, without a single escape code', function () {
      const c = capture(false);
      const p = new Progress(12, c.out);
      p.ended('b1', result('05-wrong-ca/refuses', 'passed'));
      p.ended('b2', result('07-wrong-hostname/refuses', 'failed', 'expected \x1b[31m0x04'));
      p.say('board b2 (tcp:x) stopped');
      p.finish();
      expect(c.text()).to.equal(
        '[ 1/12] b1 passed 05-wrong-ca/refuses (1.2 s)\n'
        + '[ 2/12] b2 failed 07-wrong-hostname/refuses (1.2 s): expected \\u001b[31m0x04\n'
        + 'board b2 (tcp:x) stopped\n');
      expect(c.text()).to.not.include('\x1b');
    });

    it('on a terminal: passes update one status line, a failure stays on a line of its own', function () {
      const c = capture(true);
      const p = new Progress(3, c.out);
      p.ended('b1', result('a/one', 'passed'));
      p.ended('b2', result('b/two', 'error', 'device gone'));
      p.ended('b1', result('c/three', 'passed'));
      p.finish();
      expect(c.text()).to.equal(
        '\r\x1b[K[1/3] b1 passed a/one (1.2 s)'
        + '\r\x1b[K[2/3] b2 error b/two (1.2 s): device gone\n'
        + '\r\x1b[K[3/3] b1 passed c/three (1.2 s)\n');
    });

    it('off a terminal: what a board\'s running scenario is at, a plain line with the board\'s id in front, only when it makes the scenario long', function () {
      const c = capture(false);
      const p = new Progress(4, c.out);
      p.at('b1', { id: 'a/one', doing: '', elapsedMs: 0, lasting: false });
      p.at('b1', { id: 'a/one', doing: 'repetition 1/3', elapsedMs: 0, lasting: false });
      p.at('b2', { id: 'b/two', doing: 'attempt 1/5', elapsedMs: 300, lasting: true });
      p.at('b1', { id: 'a/one', doing: 'repetition 2/3', elapsedMs: 4100, lasting: true });
      p.at('b2', { id: 'b/two', doing: 'attempt 1/5, waiting for the next', elapsedMs: 900, lasting: false });
      p.ended('b1', result('a/one', 'passed'));
      p.idle('b2');
      p.finish();
      expect(c.text()).to.equal(
        'b2 b/two: attempt 1/5, 300 ms\n'
        + 'b1 a/one: repetition 2/3, 4.1 s\n'
        + '[1/4] b1 passed a/one (1.2 s)\n');
      expect(c.text()).to.not.include('\x1b');
    });

    it('on a terminal: every board\'s running scenario on the one status line; a scenario that ends leaves it, the last one ended stays', function () {
      const c = capture(true);
      const p = new Progress(18, c.out);
      p.at('b1', { id: '16-handshake-stall/gives-up', doing: 'repetition 2/5', elapsedMs: 10, lasting: true });
      p.at('b2', { id: '04-expired/refuses', doing: 'attempt 3/6', elapsedMs: 10, lasting: true });
      p.ended('b2', result('04-expired/refuses', 'failed', 'no alert'));
      p.at('b2', { id: '05-next/x', doing: '', elapsedMs: 0, lasting: false });
      p.at('b2', { id: null, doing: '', elapsedMs: 0, lasting: false });
      p.ended('b1', result('16-handshake-stall/gives-up', 'passed'));
      p.finish();
      expect(c.text().split('\r\x1b[K').slice(1)).to.deep.equal([
        '[ 0/18] b1 16-handshake-stall/gives-up: repetition 2/5',
        '[ 0/18] b1 16-handshake-stall/gives-up: repetition 2/5 · b2 04-expired/refuses: attempt 3/6',
        '[ 1/18] b2 failed 04-expired/refuses (1.2 s): no alert\n',
        '[ 1/18] b1 16-handshake-stall/gives-up: repetition 2/5',
        '[ 1/18] b1 16-handshake-stall/gives-up: repetition 2/5 · b2 05-next/x',
        '[ 1/18] b1 16-handshake-stall/gives-up: repetition 2/5',
        '[ 2/18] b1 passed 16-handshake-stall/gives-up (1.2 s)\n',
      ]);
    });

    it('on a terminal: a board that exits leaves the status line, the others stay on it below the line saying why', function () {
      const c = capture(true);
      const p = new Progress(4, c.out);
      p.at('b1', { id: 'a/one', doing: 'repetition 2/3', elapsedMs: 0, lasting: true });
      p.at('b2', { id: 'b/two', doing: 'attempt 2/5', elapsedMs: 0, lasting: true });
      p.idle('b2');
      p.say('board b2 (emulator) was killed by SIGKILL before writing its report');
      p.finish();
      expect(c.text().split('\r\x1b[K').slice(1)).to.deep.equal([
        '[0/4] b1 a/one: repetition 2/3',
        '[0/4] b1 a/one: repetition 2/3 · b2 b/two: attempt 2/5',
        '[0/4] b1 a/one: repetition 2/3',
        'board b2 (emulator) was killed by SIGKILL before writing its report\n',
        '[0/4] b1 a/one: repetition 2/3',
        // (the run is over: a scenario still shown as running would mislead, and no scenario ended: the line is cleared)
        '',
      ]);
    });

    it('on a terminal: the boards share the width, each id cut in its middle, what it is at kept whole', function () {
      let text = '';
      const p = new Progress(2, { write: (t: string) => { text += t; }, isTTY: true, columns: 80 });
      p.at('b1', { id: `a/${'x'.repeat(80)}-end`, doing: 'repetition 2/3', elapsedMs: 0, lasting: true });
      p.at('b2', { id: `b/${'y'.repeat(80)}-end`, doing: 'attempt 4/6', elapsedMs: 0, lasting: true });
      const line = text.split('\r\x1b[K').at(-1)!;
      expect(line.length).to.be.at.most(79);
      expect(line).to.match(/^\[0\/2\] b1 a\/x+…x+-end: repetition 2\/3 · b2 b\/y+…y+-end: attempt 4\/6$/);
    });

    it('on a terminal: a status line is cut to the terminal\'s width (80 when it does not say), so it can be cleared in place', function () {
      for (const [columns, width] of [[30, 29], [0, 79]] as const) {
        let text = '';
        const p = new Progress(1, { write: (t: string) => { text += t; }, isTTY: true, columns });
        p.ended('b1', result(`a/${'x'.repeat(200)}`, 'passed'));
        const line = text.replace('\r\x1b[K', '');
        expect(line.length, `columns ${columns}`).to.equal(width);
        expect(line.endsWith('…')).to.equal(true);
      }
    });
  });

  it('a one-board run off a terminal: mocha\'s line per scenario, and no escape code either, also in a CI job', async function () {
    this.timeout(60_000);
    const { dir, remove } = await tempDir('hilt-boards-one-');
    try {
      const file = await writeScenario(dir, 'one.spec.ts', `describe('one', () => { scenario('says hello', async (ctx) => { await ctx.device.command('hello'); }); });`);
      // CI set (as every CI service sets it) colours mocha's ticks through picocolors, pipe or not.
      const { code, stdout } = await hilt(['run', file], { cwd: dir, timeoutMs: 50_000, env: { ...process.env, CI: 'true' } });
      expect(code, stdout).to.equal(0);
      expect(stdout).to.match(/✔ says hello/);
      expect(stdout).to.not.include('\x1b');
    } finally {
      await remove();
    }
  });

  describe('real runs on two and four emulated boards', function () {
    this.timeout(120_000);
    let dir: string;
    let remove: () => Promise<void>;
    let file: string;

    before(async function () {
      ({ dir, remove } = await tempDir('hilt-boards-'));
      // Four scenarios that each make a mutual-TLS MQTT connection: the broker's record names the board's identity.
      file = await writeScenario(dir, 'boards.spec.ts', `
describe('boards', () => {
  for (const n of [1, 2, 3, 4]) {
    scenario('connects ' + n, async (ctx) => {
      const result = await ctx.connect('good');
      expect(result).to.be.connected();
      await ctx.disconnect(result);
      const attempt = await ctx.attempt('good');
      expect(attempt.tls!.clientCertificate!.subject).to.equal('CN=' + ctx.deviceId + ', O=hilt lab');
    });
  }
});`);
    });
    after(() => remove());

    /** The client id the broker saw in each of a scenario's attempts. */
    const clientIds = (s: ScenarioResult) => s.attempts.map((a) => (a.mqtt as { clientId?: string } | null)?.clientId);

    it('splits the scenarios across the boards: each board its own device id, lab, console logs and folder, one report', async function () {
      const { code, stdout, stderr } = await hilt(['run', file, '--target', 'emulator', '--target', 'emulator'], { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.equal(0);
      const r = await latestResults(dir);
      expect(r.run.boards!.map((b) => [b.id, b.target, b.deviceId, b.dir])).to.deep.equal([
        ['b1', 'emulator', 'esp32-000001', 'b1'], ['b2', 'emulator', 'esp32-000001-b2', 'b2'],
      ]);
      const ids = r.scenarios.map((s) => s.id);
      const [first, second] = splitAcross(ids, 2);
      expect(r.scenarios).to.have.length(4);
      for (const s of r.scenarios) {
        const board = first!.includes(s.id) ? 'b1' : 'b2';
        const deviceId = board === 'b1' ? 'esp32-000001' : 'esp32-000001-b2';
        expect(s, s.id).to.include({ board, outcome: 'passed' });
        // Connected as its own board, with that board's certificate, to that board's lab.
        expect(clientIds(s), s.id).to.deep.equal([deviceId]);
        expect(existsSync(join(dir, 'reports', 'latest', s.consoleLog!)), s.consoleLog!).to.equal(true);
        expect(s.consoleLog!.startsWith(`${board}/console/`)).to.equal(true);
      }
      expect(second).to.have.length(2);
      // Each board's own report is in its folder; the run's summary and junit are beside them.
      for (const b of ['b1', 'b2']) {
        const own = JSON.parse(await readFile(join(dir, 'reports', 'latest', b, 'results.json'), 'utf8')) as RunResults;
        expect(own.scenarios).to.have.length(2);
      }
      expect(existsSync(join(dir, 'reports', 'latest', 'junit.xml'))).to.equal(true);
      expect(existsSync(join(dir, 'reports', 'latest', 'b1', 'latest'))).to.equal(false);
      // Progress: a plain line per scenario (stdout is a pipe here), counting to 4, and no escape code.
      const lines = stdout.split('\n').filter((l) => /^\[\d\/4\] /.test(l));
      expect(lines.map((l) => l.slice(0, 6))).to.deep.equal(['[1/4] ', '[2/4] ', '[3/4] ', '[4/4] ']);
      for (const l of lines) expect(l).to.match(/^\[\d\/4\] b[12] passed boards\/boards-connects-\d \(\d+(\.\d)? m?s\)$/);
      expect(stdout).to.not.include('\x1b');
      expect(stdout).to.include('4 passed, 0 failed, 0 errors, 0 skipped');
    });

    it('four boards: one scenario each, four identities, four labs', async function () {
      const four = Array.from({ length: 4 }, () => ['--target', 'emulator']).flat();
      const { code, stdout, stderr } = await hilt(['run', file, ...four], { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.equal(0);
      const r = await latestResults(dir);
      expect(r.run.boards!.map((b) => b.deviceId)).to.deep.equal(['esp32-000001', 'esp32-000001-b2', 'esp32-000001-b3', 'esp32-000001-b4']);
      expect(r.scenarios.map((s) => [s.id, s.board, s.outcome])).to.deep.equal([
        ['boards/boards-connects-1', 'b1', 'passed'], ['boards/boards-connects-2', 'b2', 'passed'],
        ['boards/boards-connects-3', 'b3', 'passed'], ['boards/boards-connects-4', 'b4', 'passed'],
      ]);
      for (const s of r.scenarios) expect(clientIds(s)).to.deep.equal([r.run.boards!.find((b) => b.id === s.board)!.deviceId]);
    });

    it('the same catalogue and board count put the same scenarios on the same boards', async function () {
      const runs = [];
      for (let i = 0; i < 2; i++) {
        const { code } = await hilt(['run', file, '--target', 'emulator', '--target', 'emulator', '--grep', 'connects [123]'], { cwd: dir, timeoutMs: 100_000 });
        expect(code).to.equal(0);
        runs.push((await latestResults(dir)).scenarios.map((s) => `${s.id}@${s.board}`).sort());
      }
      expect(runs[0]).to.deep.equal(runs[1]);
      expect(runs[0]).to.deep.equal(['boards/boards-connects-1@b1', 'boards/boards-connects-2@b2', 'boards/boards-connects-3@b1']);
    });

    it('--each-target runs every scenario on each board', async function () {
      const { code, stdout, stderr } = await hilt(['run', file, '--grep', 'connects [12]', '--target', 'emulator', '--target', 'emulator', '--each-target'], { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.equal(0);
      const r = await latestResults(dir);
      expect(r.scenarios.map((s) => [s.id, s.board, s.outcome, clientIds(s)[0]])).to.deep.equal([
        ['boards/boards-connects-1', 'b1', 'passed', 'esp32-000001'], ['boards/boards-connects-1', 'b2', 'passed', 'esp32-000001-b2'],
        ['boards/boards-connects-2', 'b1', 'passed', 'esp32-000001'], ['boards/boards-connects-2', 'b2', 'passed', 'esp32-000001-b2'],
      ]);
      expect(stdout).to.match(/^\[4\/4\] /m);
    });

    it('a target that holds a space (a path in emulator:?sdkconfig=) stays whole in the report and through hilt merge', async function () {
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { REFERENCE_SDKCONFIG } = await import('../../emulator/index.ts');
      await mkdir(join(dir, 'my build'), { recursive: true });
      const spaced = `emulator:?sdkconfig=${join(dir, 'my build', 'sdkconfig')}`;
      await writeFile(join(dir, 'my build', 'sdkconfig'), REFERENCE_SDKCONFIG);
      const { code, stdout, stderr } = await hilt(['run', file, '--grep', 'connects [12]', '--target', spaced, '--target', 'emulator'], { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.equal(0);
      const r = await latestResults(dir);
      expect(r.run.boards!.map((b) => b.target)).to.deep.equal([spaced, 'emulator']);
      const summary = await readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8');
      expect(summary.split('\n')[0]).to.include(` on ${spaced}, emulator, `);
      const merged = await hilt(['merge', join(dir, 'reports', 'latest'), '--out', join(dir, 'merged')], { cwd: dir, timeoutMs: 30_000 });
      expect(merged.code, merged.stdout + merged.stderr).to.equal(0);
      const m = JSON.parse(await readFile(join(dir, 'merged', 'results.json'), 'utf8')) as RunResults;
      expect(m.run.boards!.map((b) => b.target)).to.deep.equal([spaced, 'emulator']);
      expect(m.run.target).to.equal(`${spaced} emulator`);
      expect((await readFile(join(dir, 'merged', 'summary.md'), 'utf8')).split('\n')[0]).to.include(` on ${spaced}, emulator, `);
    });

    it('targets and eachTarget from hilt.config.json; --target on the command line replaces them', async function () {
      const { writeFile, rm } = await import('node:fs/promises');
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ targets: ['emulator', 'emulator'], eachTarget: true }));
      try {
        const fromConfig = await hilt(['run', file, '--grep', 'connects 1'], { cwd: dir, timeoutMs: 100_000 });
        expect(fromConfig.code, fromConfig.stdout + fromConfig.stderr).to.equal(0);
        expect((await latestResults(dir)).scenarios.map((s) => s.board)).to.deep.equal(['b1', 'b2']);
        const one = await hilt(['run', file, '--grep', 'connects 1', '--target', 'emulator'], { cwd: dir, timeoutMs: 100_000 });
        expect(one.code, one.stdout + one.stderr).to.equal(0);
        const r = await latestResults(dir);
        expect(r.run.boards).to.equal(undefined);
        expect(r.scenarios.map((s) => s.board)).to.deep.equal([undefined]);
      } finally {
        await rm(join(dir, 'hilt.config.json'));
      }
    });
  });
});
