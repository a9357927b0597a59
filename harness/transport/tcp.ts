/**
 * A UART exposed on a TCP port: QEMU's `-serial tcp::5555,server`, ser2net in raw mode, or the
 * emulator's serveTcp(). Raw bytes both ways, no Telnet or RFC 2217 negotiation.
 */
import net from 'node:net';
import { errnoOf } from '../errors.ts';
import { BaseTransport, settleWithin } from './base.ts';
import { TransportError } from './transport.ts';

export interface TcpOptions {
  host: string;
  port: number;
  /** How long the connection may take (default 5 s). */
  openTimeoutMs?: number;
}

/** What to tell the user for each way a connect fails. */
export const CONNECT_FAILURES: Record<string, (where: string) => string> = {
  ECONNREFUSED: (where) => `${where} refused the connection: is the board (QEMU, ser2net) running?`,
  ENOTFOUND: (where) => `${where}: host not found (ENOTFOUND): check the host name`,
  EAI_AGAIN: (where) => `${where}: host name lookup failed (EAI_AGAIN): check the name and this machine's DNS`,
  EHOSTUNREACH: (where) => `${where}: host unreachable (EHOSTUNREACH): check the address and the network`,
  ENETUNREACH: (where) => `${where}: network unreachable (ENETUNREACH): check the address and the network`,
  ECONNRESET: (where) => `${where} reset the connection while it opened: does it take only one client, and is another one connected?`,
};

export class TcpTransport extends BaseTransport {
  readonly kind = 'tcp' as const;
  readonly description: string;
  readonly host: string;
  readonly port: number;
  private socket: net.Socket | null = null;

  constructor(options: TcpOptions) {
    super(options.openTimeoutMs ?? 5_000);
    this.host = options.host;
    this.port = options.port;
    this.description = `tcp:${net.isIPv6(options.host) ? `[${options.host}]` : options.host}:${options.port}`;
  }

  protected doOpen(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      this.socket = socket;
      const onAbort = () => {
        socket.destroy();
        reject(signal.reason);
      };
      const onError = (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        const code = errnoOf(err);
        const explain = CONNECT_FAILURES[code];
        reject(new TransportError(explain ? explain(this.description) : `cannot connect to ${this.description} (${code}): check the host and port`, { cause: err }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        // A console line or an agent reply is a few bytes: Nagle would hold each one back.
        socket.setNoDelay(true);
        this.watch(socket);
        resolve();
      });
    });
  }

  private watch(socket: net.Socket): void {
    let why: string | null = null;
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => { why ??= 'the peer closed the connection'; });
    socket.on('error', (err) => { why ??= `connection failed (${errnoOf(err)})`; });
    socket.once('close', () => this.lost(`${this.description}: ${why ?? 'connection closed'}`));
  }

  protected doWrite(data: Buffer): Promise<void> {
    const { socket } = this;
    if (!socket) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  protected async doClose(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    // end() lets written bytes leave before the FIN; a peer that never answers it is cut off.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end();
    if (await settleWithin(1_000, closed) === 'timeout') socket.destroy();
    await settleWithin(1_000, closed);
  }

  protected openTimeoutMessage(ms: number): string {
    return `${this.description} did not accept a connection within ${ms} ms: check the host and port, and that nothing (a firewall, a stopped VM) swallows the connection`;
  }
}
