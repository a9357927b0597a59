/**
 * ser2net 4 (Debian's package) as a real RFC 2217 server for the tests: it serves a serial
 * device — here one end of a socat pseudo-terminal pair — on a TCP port it picks itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
const SER2NET = ['/usr/sbin/ser2net', '/usr/bin/ser2net'].find((p) => existsSync(p))
  ?? (spawnSync('ser2net', ['-v'], { stdio: 'ignore' }).status === 0 ? 'ser2net' : null);

export const ser2netMissing: string | null = SER2NET
  ? null
  : 'ser2net is not installed: the RFC 2217 tests against a real server need it (apt-get install ser2net)';

export interface Ser2net {
  port: number;
  child: ChildProcess;
  /** Stops ser2net (SIGKILL: its clients see the connection reset) and removes its files. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** The TCP port a process listens on, read from /proc (ser2net does not print it). */
async function listeningPort(pid: number): Promise<number | null> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) inodes.add(m[1]!);
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; st 0A is LISTEN; the inode is the tenth field.
      if (f[3] === '0A' && inodes.has(f[9]!)) return parseInt(f[1]!.split(':')[1]!, 16);
    }
  }
  return null;
}

/** Serves `device` with `accepter: telnet(rfc2217)` on 127.0.0.1; resolves once it listens (bounded). */
export async function startSer2net(device: string, options: { baud?: number } = {}): Promise<Ser2net> {
  if (!SER2NET) throw new Error(ser2netMissing!);
  const dir = await mkdtemp(join(tmpdir(), 'hilt-ser2net-'));
  const config = join(dir, 'ser2net.yaml');
  await writeFile(config, [
    'connection: &board',
    '  accepter: telnet(rfc2217),tcp,127.0.0.1,0',
    `  connector: serialdev,${device},${options.baud ?? 115200}n81,local`,
    '',
  ].join('\n'));
  // -n: stay in the foreground; -u: no UUCP lock files in /var/lock.
  const child = spawn(SER2NET, ['-n', '-u', '-c', config, '-P', join(dir, 'pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const release = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  // Nothing announces the listening socket: look for it until it is there (bounded).
  const deadline = Date.now() + 5_000;
  let port: number | null = null;
  while (port === null) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await release('SIGKILL');
      throw new Error(`ser2net exited before listening: ${log.trim()}`);
    }
    if (Date.now() > deadline) {
      await release('SIGKILL');
      throw new Error(`ser2net did not listen within 5 s: ${log.trim()}`);
    }
    port = child.pid ? await listeningPort(child.pid) : null;
    if (port === null) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, child, kill: () => release('SIGKILL'), stop: () => release('SIGTERM') };
}
