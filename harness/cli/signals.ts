/** Ctrl-C (SIGINT) and SIGTERM: long-running commands close cleanly, a run still reports. */
import { ExitCode } from '../errors.ts';

/** Waiting for Ctrl-C (SIGINT) or SIGTERM, so a long-running command can close cleanly. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/**
 * While hilt loads, and in commands with no handling of their own, an interrupt says plainly that
 * there is nothing to report, instead of a silent death by signal. It stands aside for good as
 * soon as a command listens for interrupts itself (`hilt run` does so first thing).
 */
export function guardStartup(): void {
  const guard = (signal: NodeJS.Signals) => {
    process.stderr.write(`hilt: interrupted (${signal}): stopped with nothing to report\n`);
    process.exit(ExitCode.interrupted);
  };
  const standAside = (event: string | symbol) => {
    if (event !== 'SIGINT' && event !== 'SIGTERM') return;
    process.off('newListener', standAside);
    // After the command's listener is in: removing the last listener of a signal first would
    // make Node stop catching it, and the command's listener would never be called.
    process.nextTick(() => {
      process.off('SIGINT', guard);
      process.off('SIGTERM', guard);
    });
  };
  process.on('SIGINT', guard);
  process.on('SIGTERM', guard);
  process.on('newListener', standAside);
}
