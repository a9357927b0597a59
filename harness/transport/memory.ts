/**
 * An in-process peer (the emulator's openStreamBoard().stream, a test double) reached through a
 * Duplex. The stream belongs to whoever made it: close() hangs up our side (end of input, as a
 * host closing a port) and stops listening, but does not destroy it; the peer's own close does.
 */
import type { Duplex } from 'node:stream';
import { errnoOf } from '../errors.ts';
import { BaseTransport, settleWithin } from './base.ts';
import { TransportError } from './transport.ts';

export class MemoryTransport extends BaseTransport {
  readonly kind = 'memory' as const;
  readonly description: string;
  private detach: (() => void) | null = null;
  /** The peer ended or broke the stream: nobody is left to hang up on. */
  private peerGone = false;

  constructor(private readonly duplex: Duplex, description = 'in-process stream') {
    super(1_000);
    this.description = description;
  }

  protected async doOpen(): Promise<void> {
    const { duplex } = this;
    if (duplex.destroyed || duplex.readableEnded || duplex.writableEnded) {
      throw new TransportError(`${this.description} has already ended: open the peer again (a new stream) and make a new transport`);
    }
    const onData = (chunk: Buffer | string) => this.received(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    const gone = (reason: string) => {
      this.peerGone = true;
      this.lost(reason);
    };
    const onEnd = () => gone(`${this.description} ended: the peer hung up`);
    const onClose = () => gone(`${this.description} was destroyed by the peer`);
    const onError = (err: Error) => gone(`${this.description} failed: ${errnoOf(err)}`);
    duplex.on('data', onData);
    duplex.on('end', onEnd);
    duplex.on('close', onClose);
    duplex.on('error', onError);
    this.detach = () => {
      duplex.off('data', onData);
      duplex.off('end', onEnd);
      duplex.off('close', onClose);
      duplex.off('error', onError);
      // Nobody listens any more: let whatever the peer still says drain away, as a UART with no
      // host attached does, rather than pile up in the stream's buffer.
      if (!duplex.destroyed) duplex.resume();
    };
  }

  protected doWrite(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.duplex.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  protected async doClose(): Promise<void> {
    const { duplex } = this;
    if (!this.peerGone && !duplex.destroyed && !duplex.writableEnded) {
      // 'finish' only means the stream took the bytes; bounded in case the peer never reads.
      await settleWithin(1_000, new Promise<void>((resolve) => duplex.end(resolve)));
    }
    this.detach?.();
    this.detach = null;
  }

  protected openTimeoutMessage(ms: number): string {
    return `${this.description} did not open within ${ms} ms`;
  }
}
