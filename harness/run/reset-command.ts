/**
 * The bench's own way to reset a firmware board (hilt.config.json `reset.command`, e.g. a USB hub
 * power cycle with uhubctl): run through the shell, bounded, and killed with everything it started
 * when it overruns. A command that fails or hangs is the bench's problem, not the firmware's: a
 * DeviceError (exit 3) that names the command and how it ended.
 */
import { spawn } from 'node:child_process';
import { DeviceError } from '../device/device.ts';
import { printable } from '../errors.ts';

/** Keeps the end of what the command printed on stderr, for the message. */
const STDERR_KEPT = 4096;

export async function runResetCommand(command: string, timeoutMs: number, abort?: AbortSignal): Promise<void> {
  // Its own process group, so a timeout ends the shell and whatever it started (a hub tool, sleep).
  const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => { stderr = (stderr + text).slice(-STDERR_KEPT); });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone already.
    }
  };
  const lastLine = () => {
    const line = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).pop();
    return line ? `: ${printable(line).slice(0, 200)}` : '';
  };
  const what = `reset command ${printable(JSON.stringify(command))} (hilt.config.json reset.command)`;
  type Outcome = { code: number | null; signal: string | null; timedOut: boolean; aborted?: boolean; error?: Error };
  const outcome = await new Promise<Outcome>((resolve) => {
    // The command runs in a group of its own, out of the terminal's reach: a Ctrl-C of the run
    // reaches it only through here.
    const stop = () => {
      killGroup();
      finish({ code: null, signal: 'SIGKILL', timedOut: false, aborted: true });
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ code: null, signal: 'SIGKILL', timedOut: true });
    }, timeoutMs);
    const finish = (o: Outcome) => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', stop);
      resolve(o);
    };
    if (abort?.aborted) return stop();
    abort?.addEventListener('abort', stop);
    child.once('error', (error) => finish({ code: null, signal: null, timedOut: false, error }));
    child.once('close', (code, signal) => finish({ code, signal, timedOut: false }));
  });
  if (outcome.aborted) throw new DeviceError(`${what} was stopped: the run was ${String(abort?.reason ?? 'interrupted')}`);
  if (outcome.timedOut) {
    throw new DeviceError(`${what} did not finish within ${timeoutMs} ms and was killed${lastLine()}: check the command, or raise reset.timeoutMs`);
  }
  // A shell that exited may leave children behind holding the hub: they go too.
  killGroup();
  if (outcome.error) throw new DeviceError(`${what} could not start (${outcome.error.message})`);
  if (outcome.code !== 0) {
    const how = outcome.code === null ? `was killed by ${outcome.signal}` : `exited with ${outcome.code}`;
    throw new DeviceError(`${what} ${how}${lastLine()}: the board was not reset`);
  }
}
