/**
 * A device that is a child process whose stdin/stdout are its UART: `hilt emulate`, QEMU with
 * `-serial stdio`, or any program that bridges to a board. Its stderr is not the UART; the last
 * lines are kept because they usually say why the child died.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { errnoOf } from '../errors.ts';
import { BaseTransport, settleWithin } from './base.ts';
import { TransportError } from './transport.ts';

export interface ProcessOptions {
  command: string;
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long the child may take to start (default 5 s). */
  openTimeoutMs?: number;
}

/** How long close() lets SIGTERM work before SIGKILL. */
const TERM_GRACE_MS = 2_000;
/** After the child exits, how long its stdout may still drain (a grandchild can hold it open). */
const DRAIN_MS = 1_000;
/** How much stderr is kept, and how many of its last lines a close reason quotes. */
const STDERR_KEEP = 8 * 1024;
const STDERR_LINES = 5;

/** A command line for people: long arguments (inline scripts) are cut. */
function shown(command: string, args: string[]): string {
  const words = [command, ...args].map((w) => (w.length > 40 ? `${w.slice(0, 37)}...` : w)).map((w) => (/\s/.test(w) ? JSON.stringify(w) : w));
  return words.join(' ');
}

export class ProcessTransport extends BaseTransport {
  readonly kind = 'process' as const;
  readonly description: string;
  private readonly options: ProcessOptions;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderr = '';

  constructor(options: ProcessOptions) {
    super(options.openTimeoutMs ?? 5_000);
    this.options = options;
    this.description = `process ${shown(options.command, options.args ?? [])}`;
  }

  /** The child's process id while it runs (for logs, and for tests that make it vanish). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the child wrote to stderr, folded onto one line. */
  get stderrTail(): string {
    return this.stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(-STDERR_LINES).join(' | ');
  }

  protected doOpen(signal: AbortSignal): Promise<void> {
    const { command, args = [], cwd, env } = this.options;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
      this.child = child;
      this.stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => this.received(chunk));
      child.stderr!.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEEP); });
      // EPIPE when the child is gone: write() reports it, the exit handler below closes.
      child.stdin!.on('error', () => undefined);
      this.exited = new Promise<void>((settled) => {
        child.once('exit', (code, sig) => {
          // 'close' waits for stdout to drain, so the child's last words arrive before our 'close'.
          const drained = new Promise<void>((done) => child.once('close', () => done()));
          void settleWithin(DRAIN_MS, drained).then(() => {
            settled();
            const status = sig ? `was killed by ${sig}` : `exited with code ${code}`;
            const tail = this.stderrTail;
            this.lost(`${this.description} ${status}${tail ? `; stderr: ${tail}` : ''}`);
          });
        });
      });
      const onAbort = () => {
        child.kill('SIGKILL');
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (err: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        reject(this.spawnFailure(err));
      });
      child.once('spawn', () => {
        signal.removeEventListener('abort', onAbort);
        child.on('error', () => undefined); // kill() failures: the exit handler has the last word
        resolve();
      });
    });
  }

  private spawnFailure(err: NodeJS.ErrnoException): TransportError {
    const { command, cwd } = this.options;
    const code = errnoOf(err);
    // Node reports a missing working directory as the command being missing.
    if (code === 'ENOENT' && cwd && !existsSync(cwd)) {
      return new TransportError(`cannot start ${this.description}: working directory ${cwd} does not exist`, { cause: err });
    }
    if (code === 'ENOENT') return new TransportError(`command ${command} not found: install it, or give its full path`, { cause: err });
    if (code === 'EACCES') return new TransportError(`command ${command} is not executable (EACCES): check its path and permissions (chmod +x)`, { cause: err });
    return new TransportError(`cannot start ${this.description} (${code})`, { cause: err });
  }

  protected doWrite(data: Buffer): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed) return Promise.reject(new Error('stdin is closed'));
    return new Promise((resolve, reject) => {
      stdin.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  protected async doClose(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return; // never started: nothing to end
    if (child.exitCode === null && child.signalCode === null) {
      // End of input first (a well-behaved bridge exits on it), then the signals; bounded.
      child.stdin?.end();
      child.kill('SIGTERM');
      if (await settleWithin(TERM_GRACE_MS, this.exited) === 'timeout') {
        child.kill('SIGKILL');
        await settleWithin(TERM_GRACE_MS, this.exited);
      }
    }
    await settleWithin(DRAIN_MS, this.exited);
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.stdin?.destroy();
  }

  protected openTimeoutMessage(ms: number): string {
    return `${this.description} did not start within ${ms} ms`;
  }
}
