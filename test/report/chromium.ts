/**
 * Headless Chromium (Debian's package) driven over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`: JSON messages ended by NUL on fds 3 and 4), with no test library in
 * between. It opens a file offline — the network emulated offline and every host name resolving
 * to nothing — and records what a page must not do: script errors, console errors, log errors
 * (CSP refusals, failed loads) and any request that is not for a file:, data: or about: URL.
 * Used by test/report/html.spec.ts and bench/report.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { settleWithin } from '../../harness/time.ts';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;
export const chromiumMissing: string | null = CHROMIUM
  ? null
  : 'chromium is not installed: the report.html tests open the file in it (apt-get install chromium)';

/** Every step waits at most this long: a browser that hangs fails the test, it does not hang it. */
const STEP_MS = 30_000;

export interface PageProblems {
  exceptions: string[];
  consoleErrors: string[];
  logErrors: string[];
  /** Requests for anything but file:, data: and about: URLs. */
  network: string[];
}

export interface OpenedPage {
  problems: PageProblems;
  /** Milliseconds from navigation to the load event (the page's script has run by then). */
  loadMs: number;
  /** A JavaScript expression's value in the page (JSON-serialisable). */
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

export async function openInChromium(file: string, viewport = { width: 1280, height: 900 }): Promise<OpenedPage> {
  if (!CHROMIUM) throw new Error(chromiumMissing!);
  const profile = await mkdtemp(join(tmpdir(), 'hilt-chromium-'));
  const child: ChildProcess = spawn(CHROMIUM, [
    '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`, `--window-size=${viewport.width},${viewport.height}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  toBrowser.on('error', () => {});

  const problems: PageProblems = { exceptions: [], consoleErrors: [], logErrors: [], network: [] };
  const pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const listeners: Array<(m: Message) => void> = [];
  let exited: Error | null = null;
  let nextId = 1;
  let buffer = '';
  fromBrowser.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let end = buffer.indexOf('\0'); end !== -1; end = buffer.indexOf('\0')) {
      const msg = JSON.parse(buffer.slice(0, end)) as Message;
      buffer = buffer.slice(end + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`chromium: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else {
        record(msg);
        for (const l of [...listeners]) l(msg);
      }
    }
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`chromium exited (${signal ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    for (const p of pending.values()) p.reject(exited);
    pending.clear();
  });

  function record(msg: Message): void {
    const p = msg.params ?? {};
    if (msg.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } };
      problems.exceptions.push(d.exception?.description ?? d.text ?? 'exception');
    } else if (msg.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
      problems.consoleErrors.push(JSON.stringify(p.args));
    } else if (msg.method === 'Log.entryAdded') {
      const entry = p.entry as { level: string; text: string; url?: string };
      if (entry.level === 'error' || entry.level === 'warning') problems.logErrors.push(`${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
    } else if (msg.method === 'Network.requestWillBeSent') {
      const url = (p.request as { url: string }).url;
      if (!/^(file|data|about):/.test(url)) problems.network.push(url);
    }
  }

  const bounded = <T>(what: string, work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`chromium: ${what} took over ${STEP_MS} ms`)), STEP_MS);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  };
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> => {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    const done = new Promise<Record<string, unknown>>((resolve, reject) => pending.set(id, { resolve, reject }));
    toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return bounded(method, done);
  };
  const nextEvent = (method: string, sessionId: string): Promise<Message> => bounded(method, new Promise((resolve) => {
    const l = (m: Message) => {
      if (m.method === method && m.sessionId === sessionId) {
        listeners.splice(listeners.indexOf(l), 1);
        resolve(m);
      }
    };
    listeners.push(l);
  }));

  // Chromium's helpers (renderer, zygote, crashpad) write into the profile for a moment after the
  // browser process is gone (CI once saw ENOTEMPTY removing it). Browser.close lets Chromium end
  // them itself; the process group is killed whatever is left, and the removal retries briefly.
  const close = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      send('Browser.close').catch(() => {});
      if (await settleWithin(STEP_MS / 6, gone) === 'timeout') {
        killGroup();
        await gone;
      }
    }
    killGroup();
    await rm(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  };
  function killGroup(): void {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  }

  try {
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await send(`${domain}.enable`, {}, sessionId);
    await send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }, sessionId);
    await send('Emulation.setDeviceMetricsOverride', { width: viewport.width, height: viewport.height, deviceScaleFactor: 1, mobile: false }, sessionId);
    const loaded = nextEvent('Page.loadEventFired', sessionId);
    const started = performance.now();
    const nav = await send('Page.navigate', { url: pathToFileURL(file).href }, sessionId) as { errorText?: string };
    if (nav.errorText) throw new Error(`chromium could not open ${file}: ${nav.errorText}`);
    await loaded;
    const loadMs = performance.now() - started;
    return {
      problems,
      loadMs,
      async evaluate<T>(expression: string): Promise<T> {
        const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId) as
          { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
        if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
