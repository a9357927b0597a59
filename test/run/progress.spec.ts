/**
 * Progress of a one-board run: what the running scenario is at (its repetition, a firmware
 * scenario's attempts, its time) between mocha's lines. Unit tests on a written-to object, then
 * real runs on the emulator as a user runs them: through a pipe (plain lines only, no escape code)
 * and through a real pseudo-terminal (script(1)), where it is one status line, updated in place.
 * Then a run on two emulated boards, whose boards tell the run what they are at.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScenarioProgress } from '../../harness/run/progress.ts';
import { HILT_BIN, REPO, hilt, latestResults, run, tempDir, writeScenario } from '../helpers.ts';

const STALL = join(REPO, 'scenarios', '16-handshake-stall.spec.ts');
const CLEAR = '\r\x1b[K';

/** An output that keeps what is written to it; `now` is the progress's clock, moved by hand. */
function capture(isTTY: boolean, columns = 200) {
  const clock = { ms: 0 };
  const out = { text: '', isTTY, columns, write(t: string) { out.text += t; return true; } };
  return { out, clock, now: () => clock.ms };
}

describe('progress of a one-board run', function () {
  describe('off a terminal', function () {
    it('a plain line for each repetition after the first and each attempt of a series, nothing else, no escape code', function () {
      const c = capture(false);
      const p = new ScenarioProgress(18, c.out, c.now);
      p.began('16-handshake-stall/gives-up');
      p.repetition(5);
      c.clock.ms = 4100;
      p.repetition(5);
      p.ended();
      p.began('01-tls/connects');
      p.repetition(1);
      p.attempts(1, 1, false, true);
      p.ended();
      p.began('02-mqtt-connect/backoff');
      c.clock.ms = 6000;
      p.attempts(1, 8, false, true);
      p.attempts(1, 8, true, false);
      c.clock.ms = 12_400;
      p.attempts(2, 8, false, true);
      p.finish();
      expect(c.out.text).to.equal(
        '[ 1/18] 16-handshake-stall/gives-up: repetition 2/5, 4.1 s\n'
        + '[ 3/18] 02-mqtt-connect/backoff: attempt 1/8, 1.9 s\n'
        + '[ 3/18] 02-mqtt-connect/backoff: attempt 2/8, 8.3 s\n');
    });

    it('watches no stream and draws nothing: another stream\'s writes are left as they are', function () {
      const c = capture(false);
      const write = c.out.write;
      const p = new ScenarioProgress(1, c.out, c.now);
      expect(c.out.write).to.equal(write);
      p.began('a/b');
      c.out.write('  ✔ b\n');
      p.finish();
      expect(c.out.text).to.equal('  ✔ b\n');
    });
  });

  describe('on a terminal', function () {
    it('one status line, updated in place, and cleared before anyone else writes (mocha, or stderr on the same terminal)', function () {
      const c = capture(true);
      const stderr = { text: '', isTTY: true, write(t: string) { c.out.text += `<err>${t}`; return true; } };
      const p = new ScenarioProgress(18, c.out, c.now);
      p.watch(stderr);
      p.began('16-handshake-stall/gives-up');
      p.repetition(5);
      c.clock.ms = 4100;
      p.repetition(5);
      stderr.write('hilt: warning: x\n');
      c.out.write('  ✔ gives up\n');
      p.ended();
      p.began('02-mqtt-connect/backoff');
      c.clock.ms = 6000;
      p.attempts(3, 8, true, false);
      p.finish();
      expect(c.out.text).to.equal(
        `${CLEAR}[ 1/18] 16-handshake-stall/gives-up: 0 ms`
        + `${CLEAR}[ 1/18] 16-handshake-stall/gives-up: repetition 1/5, 0 ms`
        + `${CLEAR}[ 1/18] 16-handshake-stall/gives-up: repetition 2/5, 4.1 s`
        + `${CLEAR}<err>hilt: warning: x\n`
        + '  ✔ gives up\n'
        + `${CLEAR}[ 2/18] 02-mqtt-connect/backoff: 0 ms`
        + `${CLEAR}[ 2/18] 02-mqtt-connect/backoff: attempt 3/8, waiting for the next, 1.9 s`
        + CLEAR);
    });

    it('gives the streams their own write back when the run is over', function () {
      const c = capture(true);
      const stderr = { isTTY: true, write(_t: string) { return true; } };
      const own = stderr.write;
      const p = new ScenarioProgress(1, c.out, c.now);
      p.watch(stderr);
      expect(stderr.write).to.not.equal(own);
      p.finish();
      expect(stderr.write).to.equal(own);
      expect(Object.hasOwn(c.out, 'write')).to.equal(true);
      c.out.text = '';
      c.out.write('after\n');
      expect(c.out.text).to.equal('after\n');
    });

    it('cuts a long id in its middle to fit the terminal, keeping what the scenario is at', function () {
      const c = capture(true, 60);
      const p = new ScenarioProgress(3, c.out, c.now);
      p.began(`16-handshake-stall/${'x'.repeat(100)}-given-up`);
      c.clock.ms = 4100;
      p.repetition(5);
      const last = c.out.text.split(CLEAR).at(-1)!;
      expect(last.length).to.equal(59);
      expect(last).to.match(/^\[1\/3\] 16-handshake-st[^…]*…x+-given-up: repetition 1\/5, 4\.1 s$/);
    });

    it('does not draw over a line someone left open (a scenario\'s partial output)', function () {
      const c = capture(true);
      const p = new ScenarioProgress(1, c.out, c.now);
      p.began('a/b');
      c.out.write('progress: 50%');
      p.repetition(3);
      expect(c.out.text).to.equal(`${CLEAR}[1/1] a/b: 0 ms${CLEAR}progress: 50%`);
      c.out.write(' done\n');
      p.repetition(3);
      expect(c.out.text.endsWith(` done\n${CLEAR}[1/1] a/b: repetition 2/3, 0 ms`)).to.equal(true);
      p.finish();
    });
  });

  describe('real runs on the emulator', function () {
    this.timeout(120_000);
    let dir = '';
    let remove = async () => {};
    before(async () => {
      ({ dir, remove } = await tempDir('hilt-progress-'));
    });
    after(() => remove());

    it('through a pipe: mocha\'s lines, a plain line as each repetition after the first begins, and not one escape code', async function () {
      const { code, stdout, stderr } = await hilt(['run', STALL, '--repeat', '3'], { cwd: dir, timeoutMs: 60_000 });
      expect(code, stdout + stderr).to.equal(0);
      const lines = stdout.split('\n').filter((l) => l.startsWith('['));
      expect(lines.map((l) => l.replace(/, [\d.]+ m?s$/, ''))).to.deep.equal([2, 3].map((k) =>
        `[1/1] 16-handshake-stall/16-handshake-stall-a-broker-that-accepts-tcp-and-never-answers-is-given-up-after: repetition ${k}/3`));
      expect(stdout).to.match(/✔ a broker that accepts TCP and never answers/);
      expect(stdout).to.include('1 passing');
      expect(stdout).to.include('1 passed, 0 failed, 0 errors, 0 skipped');
      expect(stdout + stderr).to.not.include('\x1b');
      expect((await latestResults(dir)).scenarios[0]).to.include({ repetitions: 3 });
    });

    it('through a real pseudo-terminal: a status line updated in place, cleared before mocha\'s line, never left with text after it', async function () {
      if (!existsSync('/usr/bin/script')) return this.skip(); // script(1), util-linux: the pseudo-terminal
      const quote = (s: string) => `'${s.replaceAll('\'', '\'\\\'\'')}'`;
      const command = [process.execPath, HILT_BIN, 'run', STALL, '--repeat', '3'].map(quote).join(' ');
      const { code, stdout, stderr } = await run('/usr/bin/script', ['-qfec', command, '/dev/null'], { cwd: dir, timeoutMs: 60_000 });
      expect(code, stdout + stderr).to.equal(0);
      const segments = stdout.split(CLEAR);
      const status = segments.filter((s) => s.startsWith('[1/1] '));
      // Drawn at the start, then at each repetition: its own events, not the clock, so always there.
      expect(status.some((s) => / repetition 2\/3, [\d.]+ m?s$/.test(s)), stdout).to.equal(true);
      expect(status.some((s) => / repetition 3\/3, [\d.]+ m?s$/.test(s)), stdout).to.equal(true);
      // A status line is only ever replaced or cleared: nothing is written after it on its line.
      for (const s of status) expect(s, JSON.stringify(s)).to.match(/^\[1\/1\] 16-handshake-stall\/[^\r\n]* [\d.]+ m?s$/);
      // mocha's line comes right after a clear, and the run's summary after it.
      const passed = segments.findIndex((s) => s.includes('✔'));
      expect(passed, stdout).to.be.above(0);
      expect(segments[passed - 1]).to.match(/^\[1\/1\] /);
      expect(stdout).to.match(/1 passed, 0 failed, 0 errors, 0 skipped\r?\n/);
      // Off the status line, repetitions get no plain line of their own on a terminal.
      expect(stdout).to.not.match(/repetition \d\/3, [\d.]+ m?s\r?\n/);
    });

    it('a firmware backoff scenario through a pipe: a plain line per attempt of the series, counting to what it watches', async function () {
      // The good emulated app (backoff with jitter, CI time scale); five attempts are the fewest its verdict judges.
      const settings = join(dir, 'app.json');
      await writeFile(settings, JSON.stringify({ timeScale: 0.05, keepaliveS: 20, reconnect: { policy: 'backoff-jitter' } }));
      const config = join(dir, 'firmware.json');
      await writeFile(config, JSON.stringify({ endpoint: { port: 0 }, firmware: { scenarios: { 'MQTT Connect Backoff (no CONNACK)': { attempts: 5 } } } }));
      const { code, stdout, stderr } = await hilt(['run', '--target', `emulator:?firmware=app&settings=${settings}`, '--grep', '^MQTT Connect Backoff', '--config', config],
        { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.be.oneOf([0, 1]);
      const seen = [...stdout.matchAll(/^\[1\/1\] 02-mqtt-connect\/mqtt-connect-backoff-no-connack: attempt (\d+)\/5, [\d.]+ m?s$/gm)].map((m) => Number(m[1]));
      expect(seen.slice(0, 5), stdout).to.deep.equal([1, 2, 3, 4, 5]);
      expect(stdout).to.match(/MQTT Connect Backoff \(no CONNACK\)/);
      expect(stdout + stderr).to.not.include('\x1b');
      const [result] = (await latestResults(dir)).scenarios;
      expect(result!.attempts.length).to.be.at.least(5);
    });
  });
});

describe('progress of a multi-board run', function () {
  describe('real runs on two emulated boards', function () {
    this.timeout(120_000);
    let dir = '';
    let file = '';
    let remove = async () => {};
    before(async () => {
      ({ dir, remove } = await tempDir('hilt-progress-boards-'));
      // Two scenarios: the split gives p/p-one to b1 and p/p-two to b2.
      file = await writeScenario(dir, 'p.spec.ts', `describe('p', () => {
  scenario('one', async (ctx) => { await ctx.device.command('hello'); });
  scenario('two', async (ctx) => { await ctx.device.command('hello'); });
});`);
    });
    after(() => remove());
    const twoBoards = () => ['run', file, '--repeat', '3', '--target', 'emulator', '--target', 'emulator'];

    it('through a pipe: each board\'s repetitions after the first as plain lines with the board\'s id in front, and not one escape code', async function () {
      const { code, stdout, stderr } = await hilt(twoBoards(), { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.equal(0);
      const lines = stdout.split('\n').filter((l) => /^b\d /.test(l)).map((l) => l.replace(/, [\d.]+ m?s$/, ''));
      for (const [board, id] of [['b1', 'p/p-one'], ['b2', 'p/p-two']]) {
        expect(lines.filter((l) => l.startsWith(`${board} `)), stdout).to.deep.equal([`${board} ${id}: repetition 2/3`, `${board} ${id}: repetition 3/3`]);
      }
      expect(stdout).to.match(/^\[2\/2\] b\d passed p\/p-/m);
      expect(stdout + stderr).to.not.include('\x1b');
      expect((await latestResults(dir)).scenarios.map((s) => [s.id, s.board, s.repetitions])).to.deep.equal([['p/p-one', 'b1', 3], ['p/p-two', 'b2', 3]]);
    });

    it('through a real pseudo-terminal: the boards\' repetitions on the one status line, no plain line for them', async function () {
      if (!existsSync('/usr/bin/script')) return this.skip(); // script(1), util-linux: the pseudo-terminal
      const quote = (s: string) => `'${s.replaceAll('\'', '\'\\\'\'')}'`;
      const command = [process.execPath, HILT_BIN, ...twoBoards()].map(quote).join(' ');
      const { code, stdout, stderr } = await run('/usr/bin/script', ['-qfec', command, '/dev/null'], { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.equal(0);
      const status = stdout.split(CLEAR).filter((s) => s.startsWith('['));
      // Drawn at each event a board tells: each repetition is on the status line at least once.
      for (const seen of ['b1 p/p-one: repetition 2/3', 'b1 p/p-one: repetition 3/3', 'b2 p/p-two: repetition 2/3', 'b2 p/p-two: repetition 3/3']) {
        expect(status.some((s) => s.includes(seen)), `${seen} in ${JSON.stringify(stdout)}`).to.equal(true);
      }
      // A status line of running scenarios is only ever replaced or cleared: nothing after it on its line.
      for (const s of status.filter((x) => x.includes('repetition'))) {
        expect(s, JSON.stringify(s)).to.match(/^\[[0-2]\/2\] b[12] p\/p-(one|two)(: repetition [1-3]\/3)?( · b[12] p\/p-(one|two)(: repetition [1-3]\/3)?)?$/);
      }
      expect(stdout).to.not.match(/^b[12] p\/p-/m);
      expect(stdout).to.match(/2 passed, 0 failed, 0 errors, 0 skipped\r?\n/);
    });

    it('a firmware backoff scenario on each of two boards, through a pipe: each board\'s attempts as plain lines with its id in front', async function () {
      const settings = join(dir, 'app.json');
      await writeFile(settings, JSON.stringify({ timeScale: 0.05, keepaliveS: 20, reconnect: { policy: 'backoff-jitter' } }));
      const config = join(dir, 'firmware.json');
      await writeFile(config, JSON.stringify({ endpoint: { port: 0 }, firmware: { scenarios: { 'MQTT Connect Backoff (no CONNACK)': { attempts: 5 } } } }));
      const target = `emulator:?firmware=app&settings=${settings}`;
      const { code, stdout, stderr } = await hilt(['run', '--target', target, '--target', target, '--each-target', '--grep', '^MQTT Connect Backoff', '--config', config],
        { cwd: dir, timeoutMs: 100_000 });
      expect(code, stdout + stderr).to.be.oneOf([0, 1]);
      for (const board of ['b1', 'b2']) {
        const seen = [...stdout.matchAll(new RegExp(`^${board} 02-mqtt-connect/mqtt-connect-backoff-no-connack: attempt (\\d+)/5, [\\d.]+ m?s$`, 'gm'))].map((m) => Number(m[1]));
        expect(seen.slice(0, 5), `${board} in ${stdout}`).to.deep.equal([1, 2, 3, 4, 5]);
      }
      expect(stdout + stderr).to.not.include('\x1b');
    });
  });
});
