/**
 * Serial boards by identity rather than path (`serial:?serial_number=X`, `?vid=303a&pid=1001`,
 * `?location=1-1.2`): which port has the identity now, and a transport that finds it again when
 * the board goes away and comes back (a USB-Serial/JTAG board re-enumerates on every reset; a
 * cable is pulled and put back), within bounded retries.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../errors.ts';
import { listPorts, type ListOptions, type PortInfo } from '../../transport/ports.ts';
import type { SerialTransport } from '../../transport/serial.ts';
import { TransportError, type CloseInfo, type ModemLines, type Transport, type TransportCapabilities } from '../../transport/transport.ts';

export interface PortIdentity {
  serialNumber?: string;
  vid?: string;
  pid?: string;
  location?: string;
}

/** How often, and how far apart, an identity is looked for: a re-enumerating board takes ~1-2 s. */
export const RESOLVE_TRIES = 10;
export const RESOLVE_INTERVAL_MS = 300;

function hexId(url: string, key: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:0x)?([0-9a-f]{1,4})$/i.exec(value);
  if (!m) throw new UsageError(`target ${url}: ${key}=${value}: give a USB id in hex, e.g. vid=303a&pid=1001`);
  return m[1]!.toLowerCase().padStart(4, '0');
}

export function identityOf(url: string, o: Map<string, string>): PortIdentity | null {
  const id: PortIdentity = {};
  const serialNumber = o.get('serial_number');
  if (serialNumber !== undefined) id.serialNumber = serialNumber;
  const vid = hexId(url, 'vid', o.get('vid'));
  const pid = hexId(url, 'pid', o.get('pid'));
  if (pid !== undefined && vid === undefined) throw new UsageError(`target ${url}: pid=${o.get('pid')} needs its vid: write vid=303a&pid=1001`);
  if (vid !== undefined) id.vid = vid;
  if (pid !== undefined) id.pid = pid;
  const location = o.get('location');
  if (location !== undefined) id.location = location;
  return Object.keys(id).length ? id : null;
}

export function describeIdentity(id: PortIdentity): string {
  return [
    id.serialNumber !== undefined ? `serial_number=${id.serialNumber}` : '', id.vid ? `vid=${id.vid}` : '', id.pid ? `pid=${id.pid}` : '',
    id.location !== undefined ? `location=${id.location}` : '',
  ].filter(Boolean).join('&');
}

export function matchesIdentity(p: PortInfo, id: PortIdentity): boolean {
  return (id.serialNumber === undefined || p.serialNumber?.toLowerCase() === id.serialNumber.toLowerCase())
    && (id.vid === undefined || p.vid === id.vid) && (id.pid === undefined || p.pid === id.pid)
    && (id.location === undefined || p.location === id.location);
}

const portWords = (p: PortInfo) => `${p.path}${p.vid ? ` (${p.vid}:${p.pid ?? '?'}${p.serialNumber ? ` serial ${p.serialNumber}` : ''}${p.location ? ` at ${p.location}` : ''})` : ''}`;

/** The one port with this identity, looked for up to `tries` times (a board re-enumerating). */
export async function resolvePort(url: string, id: PortIdentity, tries = RESOLVE_TRIES, intervalMs = RESOLVE_INTERVAL_MS, list: ListOptions = {}): Promise<PortInfo> {
  let last = await listPorts(list);
  for (let attempt = 1; ; attempt++) {
    const found = last.ports.filter((p) => matchesIdentity(p, id));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw new UsageError(`target ${url}: ${found.length} ports match ${describeIdentity(id)}: ${found.map(portWords).join(', ')}; add serial_number= or location= to pick one (npx hilt ports lists them)`);
    }
    if (last.by === 'dev') {
      throw new UsageError(`target ${url}: cannot find a port by identity here: ${last.source}; give the port's path, e.g. serial:/dev/ttyUSB0`);
    }
    if (attempt >= tries) break;
    await sleep(intervalMs);
    last = await listPorts(list);
  }
  const seen = last.ports.length ? last.ports.map(portWords).join(', ') : 'none';
  throw new TransportError(`target ${url}: no serial port has ${describeIdentity(id)} (looked ${tries} times over ${(tries - 1) * intervalMs} ms); ports found: ${seen} (${last.source}): check the board is plugged in (npx hilt ports)`);
}

export interface IdentityOptions {
  /** The target as the user wrote it, for messages. */
  url: string;
  identity: PortIdentity;
  baudRate: number;
  /** Looks for the port up to this many times, this far apart (defaults: RESOLVE_TRIES, RESOLVE_INTERVAL_MS). */
  tries?: number;
  intervalMs?: number;
  /** Where to list ports (tests give a fixture sysfs tree); default: this machine's. */
  list?: ListOptions;
}

/**
 * A serial port found by identity. It opens the port the identity names; when that port goes
 * away (not by close()), it looks for the identity again and opens what it finds, within the
 * bounded tries, so a board that re-enumerates stays one transport: no 'close' then, only a
 * 'reopened' event with the new path. Bytes the board sent while no port was open are lost, as
 * they would be to any terminal. If the board does not come back, 'close' says so, once.
 *
 * open() rejects with a TransportError when no port has the identity (after the tries), and with
 * a UsageError when the identity cannot serve here: two boards match it, or this machine can
 * list only port names (no udev, no sysfs). The user has to change the target in those cases.
 */
export class IdentitySerialTransport extends EventEmitter implements Transport {
  readonly kind = 'serial' as const;
  private inner: SerialTransport | null = null;
  private state: 'idle' | 'opening' | 'open' | 'reopening' | 'closed' = 'idle';
  private reopening: Promise<void> | null = null;
  private baudRate: number;
  /** The port found last: what the report names. */
  port: PortInfo | null = null;

  constructor(private readonly options: IdentityOptions) {
    super();
    this.baudRate = options.baudRate;
  }

  get description(): string {
    const id = describeIdentity(this.options.identity);
    return `serial ${this.port ? `${this.port.path} (${id})` : id} at ${this.baudRate} baud`;
  }

  get capabilities(): TransportCapabilities {
    return this.inner ? this.inner.capabilities : { lineControl: true, baudRate: true };
  }

  /** Open, or finding the board again: writes wait for that. */
  get isOpen(): boolean {
    return this.state === 'open' || this.state === 'reopening';
  }

  async open(): Promise<void> {
    if (this.state !== 'idle') throw new TransportError(`${this.description} is ${this.state === 'closed' ? 'closed: a transport opens once, make a new one to reconnect' : 'already open'}`);
    this.state = 'opening';
    try {
      const port = await resolvePort(this.options.url, this.options.identity, this.options.tries, this.options.intervalMs, this.options.list);
      await this.attach(port);
      // close() during the open: let go of what was just opened.
      if (this.state !== 'opening') {
        await this.inner?.close();
        throw new TransportError(`${this.description} was closed while opening`);
      }
      this.state = 'open';
    } catch (err) {
      if (this.state === 'opening') this.state = 'idle';
      throw err;
    }
  }

  private async attach(port: PortInfo): Promise<void> {
    const { SerialTransport } = await import('../../transport/serial.ts');
    const inner = new SerialTransport({ path: port.path, baudRate: this.baudRate });
    inner.on('data', (chunk: Buffer) => { if (this.inner === inner) this.emit('data', chunk); });
    inner.once('close', (info: CloseInfo) => { if (this.inner === inner && !info.expected) this.lost(info); });
    await inner.open();
    this.inner = inner;
    this.port = port;
  }

  /** The port went away under us: find the board again, or end with the reason. */
  private lost(info: CloseInfo): void {
    if (this.state !== 'open') return;
    this.state = 'reopening';
    this.reopening = (async () => {
      const tries = this.options.tries ?? RESOLVE_TRIES;
      const interval = this.options.intervalMs ?? RESOLVE_INTERVAL_MS;
      let last: unknown = null;
      // The old device node may linger a moment after a USB device leaves, or be back before it
      // opens: each try looks the identity up again and opens what it finds.
      for (let attempt = 1; attempt <= tries && this.state === 'reopening'; attempt++) {
        try {
          await this.attach(await resolvePort(this.options.url, this.options.identity, 1, 0, this.options.list));
          if (this.state !== 'reopening') return void (await this.inner?.close());
          this.state = 'open';
          this.emit('reopened', this.port!.path);
          return;
        } catch (err) {
          if (err instanceof UsageError) { last = err; break; }
          last = err;
          if (attempt < tries) await sleep(interval);
        }
      }
      if (this.state !== 'reopening') return;
      this.state = 'closed';
      const why = last instanceof Error ? last.message : String(last);
      this.emit('close', { expected: false, reason: `${info.reason}; it did not come back as ${describeIdentity(this.options.identity)} within ${tries} tries (${why})` } satisfies CloseInfo);
    })();
  }

  /** The open port, once a board that went away is back (bounded by the tries). */
  private async current(doing: string): Promise<SerialTransport> {
    if (this.state === 'reopening') await this.reopening;
    if (this.state === 'open' && this.inner) return this.inner;
    const why = this.state === 'idle' || this.state === 'opening' ? 'it is not open yet: await open() first' : 'it is closed';
    throw new TransportError(`cannot ${doing} ${this.description}: ${why}`);
  }

  async write(data: string | Buffer): Promise<void> {
    await (await this.current('write to')).write(data);
  }

  async setSignals(lines: ModemLines): Promise<void> {
    await (await this.current('set DTR/RTS on')).setSignals(lines);
  }

  async setBaudRate(baudRate: number): Promise<void> {
    await (await this.current('change the baud rate of')).setBaudRate(baudRate);
    this.baudRate = baudRate;
  }

  async close(): Promise<void> {
    const was = this.state;
    if (was === 'closed') return;
    this.state = 'closed';
    await this.inner?.close();
    if (was === 'open' || was === 'reopening') this.emit('close', { expected: true, reason: 'closed' } satisfies CloseInfo);
  }
}
