/**
 * A scenario's console log file: every line a device printed (and, for an agent, every protocol
 * line), with host timestamps. Shared by the agent Device and the FirmwareDevice.
 */
import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

export class ConsoleLog extends EventEmitter {
  private log: WriteStream | null = null;
  private started = 0;

  /**
   * Starts writing to `path` (its folder must exist); synchronous so that no line between two
   * scenarios is lost. A log that cannot be written (a full disk) must not bring the run down:
   * 'logError' (path, err) says so and the lines stay in the device's window.
   */
  start(path: string, description: string): void {
    const previous = this.log;
    if (previous) previous.end();
    const log = createWriteStream(path, { flags: 'w' });
    log.on('error', (err) => {
      if (this.log === log) this.log = null;
      this.emit('logError', path, err);
    });
    this.log = log;
    this.started = Date.now();
    log.write(`# ${description}, started ${new Date(this.started).toISOString()}\n`);
  }

  async stop(): Promise<void> {
    const log = this.log;
    this.log = null;
    // (end()'s callback also runs when the stream failed, with the error, which 'error' reported)
    if (log && !log.destroyed) await new Promise<void>((resolve) => log.end(() => resolve()));
  }

  line(text: string): void {
    if (!this.log) return;
    const t = ((Date.now() - this.started) / 1000).toFixed(3).padStart(8);
    this.log.write(`[${t}] ${text}\n`);
  }
}
