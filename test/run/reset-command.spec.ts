/** The bench's reset command: run through the shell, bounded, and every way it can end named. */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceError } from '../../harness/device/device.ts';
import { runResetCommand } from '../../harness/run/reset-command.ts';
import { rejection, tempDir } from '../helpers.ts';


/**
 * The state of a process that was sent SIGKILL, once it has died (gone, a zombie, dead) or after
 * 3 s. It dies when the kernel next schedules it, which on a loaded machine may be just after
 * kill() returned; it is no child of this process, so there is no exit event to await.
 */
async function settledState(pid: number): Promise<string> {
  const stateOf = () => readFile(`/proc/${pid}/stat`, 'utf8').then((t) => t.slice(t.lastIndexOf(')') + 2)[0]!, () => 'gone');
  let state = await stateOf();
  for (const until = Date.now() + 3_000; !['gone', 'Z', 'X'].includes(state) && Date.now() < until; state = await stateOf()) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return state;
}

describe('reset command', function () {
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => { ({ dir, remove } = await tempDir()); });
  after(() => remove());

  it('runs the command through the shell and resolves when it exits 0', async function () {
    const marker = join(dir, 'reset-ran');
    await runResetCommand(`touch ${marker} && echo done`, 5_000);
    expect(existsSync(marker)).to.equal(true);
  });

  it('a command that fails is a device error naming the command, its exit code and its last stderr line', async function () {
    const err = await rejection(runResetCommand('echo "first line" >&2; echo "uhubctl: no compatible hubs" >&2; exit 4', 5_000));
    expect(err).to.be.instanceOf(DeviceError);
    expect(err.message).to.match(/^reset command ".*exit 4" \(hilt\.config\.json reset\.command\) exited with 4: uhubctl: no compatible hubs: the board was not reset$/);
  });

  it('a command that hangs is killed with its process group at the timeout, and says so', async function () {
    const pidFile = join(dir, 'sleeper.pid');
    const started = Date.now();
    // The shell starts a child of its own that would outlive the shell if only the shell were killed.
    const err = await rejection(runResetCommand(`sleep 30 & echo $! > ${pidFile}; echo "waiting for hub" >&2; wait`, 500));
    expect(Date.now() - started).to.be.below(5_000);
    expect(err).to.be.instanceOf(DeviceError);
    expect(err.message).to.match(/did not finish within 500 ms and was killed: waiting for hub: check the command, or raise reset\.timeoutMs$/);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    // A sleep that was never signalled stays 'S' for its 30 s.
    expect(await settledState(pid)).to.be.oneOf(['gone', 'Z', 'X']);
  });

  it('an interrupted run stops the command at once: its process group is killed and the error says why', async function () {
    const pidFile = join(dir, 'interrupted.pid');
    const abort = new AbortController();
    const started = Date.now();
    const running = runResetCommand(`sleep 30 & echo $! > ${pidFile}; wait`, 20_000, abort.signal);
    // The command is in a process group of its own, out of the terminal's Ctrl-C: only the abort reaches it.
    for (const until = Date.now() + 5_000; !existsSync(pidFile) && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    abort.abort('interrupted (SIGINT)');
    const err = await rejection(running);
    expect(Date.now() - started).to.be.below(10_000);
    expect(err).to.be.instanceOf(DeviceError);
    expect(err.message).to.match(/^reset command ".*" \(hilt\.config\.json reset\.command\) was stopped: the run was interrupted \(SIGINT\)$/);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await settledState(pid)).to.be.oneOf(['gone', 'Z', 'X']);
  });

  it('a command that does not exist is the shell\'s exit 127, named', async function () {
    const err = await rejection(runResetCommand('no-such-hub-tool-xyz -a cycle', 5_000));
    expect(err.message).to.match(/exited with 127: .*no-such-hub-tool-xyz.*not found: the board was not reset$/);
  });
});
