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

export async function runResetCommand(command: string, timeoutMs: number): Promise<void> {
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
  const outcome = await new Promise<{ code: number | null; signal: string | null; timedOut: boolean; error?: Error }>((resolve) => {
    const timer = setTimeout(() => {
      killGroup();
      resolve({ code: null, signal: 'SIGKILL', timedOut: true });
    }, timeoutMs);
    child.once('error', (error) => { clearTimeout(timer); resolve({ code: null, signal: null, timedOut: false, error }); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, timedOut: false }); });
  });
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
