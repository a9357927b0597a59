/**
 * Faults of a one-board run's progress on a real terminal: Ctrl-C typed while the status line is
 * on screen. The pseudo-terminal is script(1)'s; the Ctrl-C is the byte 0x03 typed into it, which
 * the terminal's line discipline turns into SIGINT for the run, as a user's key press does.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HILT_BIN, REPO, latestResults, tempDir } from '../helpers.ts';

const STALL = join(REPO, 'scenarios', '16-handshake-stall.spec.ts');
const CLEAR = '\r\x1b[K';

describe('faults: progress on a terminal', function () {
  this.timeout(90_000);

  it('Ctrl-C while the status line is shown: exit 130, the run\'s closing lines each on a line of their own, nothing drawn after', async function () {
    if (!existsSync('/usr/bin/script')) return this.skip(); // script(1), util-linux: the pseudo-terminal
    const { dir, remove } = await tempDir('hilt-progress-fault-');
    try {
      const quote = (s: string) => `'${s.replaceAll('\'', '\'\\\'\'')}'`;
      const command = [process.execPath, HILT_BIN, 'run', STALL, '--repeat', '5'].map(quote).join(' ');
      const child = spawn('/usr/bin/script', ['-qfec', command, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let typed = false;
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // The second repetition has begun: the status line is on screen now.
        if (!typed && /repetition 2\/5, [\d.]+ m?s$/.test(out)) {
          typed = true;
          child.stdin.write('\x03');
        }
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      expect(typed, `never showed repetition 2/5:\n${JSON.stringify(out)}`).to.equal(true);
      expect(code, out).to.equal(130);
      // Each status line was replaced or cleared: only the terminal's own echo of the key (^C) ever followed one.
      const segments = out.split(CLEAR);
      for (const s of segments.filter((x) => x.startsWith('[1/1] '))) {
        expect(s, JSON.stringify(s)).to.match(/^\[1\/1\] 16-handshake-stall\/[^\r\n]* [\d.]+ m?s(\^C)?$/);
      }
      // The run's closing lines start on lines of their own, and no status line comes after them.
      expect(out).to.match(/\n0 passed, 0 failed, 1 errors, 0 skipped \(cut short: interrupted \(SIGINT\)\)\r?\n/);
      expect(out.slice(out.indexOf('cut short'))).to.not.include('\x1b[K');
      expect((await latestResults(dir)).run.cutShort).to.equal('interrupted (SIGINT)');
    } finally {
      await remove();
    }
  });
});
