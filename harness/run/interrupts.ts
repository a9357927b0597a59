/** Ctrl-C (SIGINT) and SIGTERM during a run, which must still write its report before it exits. */
import { ExitCode } from '../errors.ts';

/**
 * The interrupts of one command that must finish its work before it exits (a run writes its
 * report): the first SIGINT or SIGTERM is recorded and passed to whoever listens; a second one
 * stops the process at once, as a user pressing Ctrl-C twice expects.
 */
export class Interrupts {
  signal: NodeJS.Signals | null = null;
  private readonly listeners = new Set<(signal: NodeJS.Signals) => void>();
  private readonly handler = (signal: NodeJS.Signals) => {
    if (this.signal) {
      process.stderr.write('hilt: stopped at once (second interrupt): no clean-up, no report\n');
      process.exit(ExitCode.interrupted);
    }
    this.signal = signal;
    for (const listener of this.listeners) listener(signal);
  };

  constructor() {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Calls `listener` on the first interrupt (at once if it came already); returns its removal. */
  listen(listener: (signal: NodeJS.Signals) => void): () => void {
    if (this.signal) listener(this.signal);
    else this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
    this.listeners.clear();
  }
}
