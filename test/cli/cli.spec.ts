/** The hilt command line, run as a user runs it: exit statuses, one-line errors, clean shutdown. */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HILT_BIN, hilt, run, tempDir } from '../helpers.ts';
import { deviceOptions, mqttConnect, sClient } from '../lab/clients.ts';
import { ensurePki } from '../../harness/pki/index.ts';

function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).to.have.length(1);
  expect(lines[0]).to.match(pattern);
}

/** Reads JSON lines from a child's stdout until `predicate` matches one (bounded). */
function readUntil(child: ChildProcess, predicate: (o: Record<string, unknown>) => boolean, seen: Array<Record<string, unknown>>, timeoutMs = 10_000) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`)), timeoutMs);
    const check = (o: Record<string, unknown>) => {
      if (!predicate(o)) return;
      clearTimeout(timer);
      resolve(o);
    };
    seen.forEach(check);
    child.stdout!.on('json', check);
  });
}

/** `hilt broker ...` in the background, its JSON lines collected as they come. */
function startBroker(args: string[]) {
  const child = spawn(process.execPath, [HILT_BIN, 'broker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const seen: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    seen.push(o);
    child.stdout!.emit('json', o);
  });
  return { child, seen, exited };
}

describe('hilt command line', function () {
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir());
  });
  afterEach(() => remove());

  it('--help lists the commands', async function () {
    const { code, stdout } = await hilt(['--help']);
    expect(code).to.equal(0);
    expect(stdout).to.include('certs').and.to.include('broker');
  });

  it('an unknown command exits 2', async function () {
    const { code, stderr } = await hilt(['frobnicate']);
    expect(code).to.equal(2);
    expectOneLineError(stderr, /unknown command 'frobnicate'/);
  });

  // Found by test/faults/fuzz.spec.ts: commander's suggestion came on a second line.
  it('a misspelt command or option: one line, with the suggestion on it', async function () {
    const command = await hilt(['brokr']);
    expect(command.code).to.equal(2);
    expectOneLineError(command.stderr, /^error: unknown command 'brokr' \(Did you mean broker\?\)$/);
    const option = await hilt(['run', '--tagret', 'emulator']);
    expect(option.code).to.equal(2);
    expectOneLineError(option.stderr, /^error: unknown option '--tagret' \(Did you mean --target\?\)$/);
  });

  // Found by test/faults/fuzz.spec.ts: JSON.stringify leaves DEL and the C1 codes (one of them
  // starts terminal escape sequences) as they are, and the message printed them raw.
  it('a flag value with a control character is shown escaped, on one printable line', async function () {
    const runs = await Promise.all([
      hilt(['run', '--repeat', '\x7f']), hilt(['run', '--grep', '(\x9b']), hilt(['broker', '--dir', dir, '--port-base', 'x\x85']),
    ]);
    expect(runs.map((r) => r.code)).to.deep.equal([2, 2, 2]);
    expectOneLineError(runs[0]!.stderr, /^hilt: --repeat "\\u007f": give a whole number from 1 to 1000$/);
    expectOneLineError(runs[1]!.stderr, /^hilt: --grep "\(\\u009b": not a regular expression/);
    expectOneLineError(runs[2]!.stderr, /^hilt: --port-base "x\\u0085": not a port number/);
    for (const r of runs) expect(r.stderr.trimEnd()).to.not.match(/[\p{Cc}]/u);
  });

  describe('certs', function () {
    it('creates the PKI, then keeps it', async function () {
      const first = await hilt(['certs', '--dir', join(dir, 'certs')]);
      expect(first.code).to.equal(0);
      expect(first.stdout).to.match(/20 created, 0 reissued, 0 kept/);
      expect(first.stdout).to.not.include('PRIVATE KEY');
      const again = await hilt(['certs', '--dir', join(dir, 'certs')]);
      expect(again.stdout).to.match(/0 created, 0 reissued, 20 kept/);
    });

    it('reports a key whose mode drifted from 0600, and sets it back', async function () {
      await ensurePki({ dir });
      await chmod(join(dir, 'ca/issuing.key'), 0o644);
      const { code, stdout } = await hilt(['certs', '--dir', dir]);
      expect(code).to.equal(0);
      expect(stdout).to.match(/^ {2}warning +ca-issuing +\(key ca\/issuing\.key was mode 0644, open to others: set to 0600/m);
      expect((await stat(join(dir, 'ca/issuing.key'))).mode & 0o777).to.equal(0o600);
    });

    it('creates the certs folders 0700 and keys 0600, even under umask 000', async function () {
      const certs = join(dir, 'lab', 'certs');
      const { code, stderr } = await run('/bin/sh', ['-c', 'umask 000 && exec "$0" "$1" certs --dir "$2"', process.execPath, HILT_BIN, certs]);
      expect(code, stderr).to.equal(0);
      const folders = ['.', 'roots', 'ca', 'server', 'client', 'bundles'];
      for (const folder of folders) expect((await stat(join(certs, folder))).mode & 0o777, folder).to.equal(0o700);
      expect((await stat(join(certs, 'roots/current.key'))).mode & 0o777).to.equal(0o600);
      // Only the certs folder is private: a parent created on the way is an ordinary folder.
      expect((await stat(join(dir, 'lab'))).mode & 0o777).to.equal(0o777);
    });

    it('mints a device certificate', async function () {
      const { code, stdout } = await hilt(['certs', 'device', 'bench-01', '--dir', dir]);
      expect(code).to.equal(0);
      expect(stdout).to.match(/device bench-01: certificate .*device\/bench-01\.crt, key .*device\/bench-01\.key/);
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { artifacts: Array<{ name: string; subject?: string }> };
      expect(manifest.artifacts.find((a) => a.name === 'device/bench-01')?.subject).to.equal('CN=bench-01, O=hilt lab');
    });

    it('a corrupt root: exit 2, one line naming the file, nothing overwritten', async function () {
      await ensurePki({ dir });
      const corrupt = 'corrupt\n';
      await writeFile(join(dir, 'roots/current.crt'), corrupt);
      const manifest = await readFile(join(dir, 'manifest.json'), 'utf8');
      const { code, stderr } = await hilt(['certs', '--dir', dir]);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: .*roots\/current\.crt: not a valid PEM certificate/);
      expect(await readFile(join(dir, 'roots/current.crt'), 'utf8')).to.equal(corrupt);
      expect(await readFile(join(dir, 'manifest.json'), 'utf8')).to.equal(manifest);
    });

    it('a certs dir that cannot be written: exit 2', async function () {
      await writeFile(join(dir, 'file'), '');
      const { code, stderr } = await hilt(['certs', '--dir', join(dir, 'file', 'certs')]);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: certs dir .* cannot be written \(ENOTDIR\)/);
    });
  });

  describe('emulate', function () {
    it('a malformed sdkconfig: exit 2, naming the file and line', async function () {
      const path = join(dir, 'sdkconfig');
      await writeFile(path, 'CONFIG_IDF_TARGET="esp32"\nthis is not a setting\n');
      const { code, stderr } = await hilt(['emulate', '--sdkconfig', path]);
      expect(code).to.equal(2);
      expectOneLineError(stderr, new RegExp(`^hilt: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: `));
    });

    it('an sdkconfig that does not exist: exit 2', async function () {
      const { code, stderr } = await hilt(['emulate', '--sdkconfig', join(dir, 'missing')]);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: --sdkconfig .*missing: cannot be read \(ENOENT\)/);
    });

    it('--pty with --tcp: exit 2', async function () {
      const { code, stderr } = await hilt(['emulate', '--pty', '--tcp', '0']);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: --pty and --tcp: choose one$/);
    });
  });

  describe('broker', function () {
    it('an unknown profile: exit 2, naming it', async function () {
      const { code, stderr } = await hilt(['broker', '--dir', dir, '--profiles', 'good,bogus', '--port-base', '0']);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: unknown listener profile "bogus": choose from good, /);
    });

    it('a port in use: exit 2, naming the port', async function () {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as { port: number }).port;
      try {
        const { code, stderr } = await hilt(['broker', '--dir', dir, '--profiles', 'good', '--port-base', String(port)]);
        expect(code).to.equal(2);
        expectOneLineError(stderr, new RegExp(`^hilt: cannot listen on 127\\.0\\.0\\.1 port ${port} for listener good \\(EADDRINUSE\\)`));
      } finally {
        holder.close();
      }
    });

    it('a bad --port-base: exit 2', async function () {
      const { code, stderr } = await hilt(['broker', '--dir', dir, '--port-base', 'eighty']);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: --port-base "eighty": not a port number/);
    });

    it('a --port-base in hex, exponent or with spaces: exit 2 (decimal digits only)', async function () {
      for (const value of ['0x22b3', '1e3', ' 8883']) {
        const { code, stderr } = await hilt(['broker', '--dir', dir, '--port-base', value]);
        expect(code, value).to.equal(2);
        expectOneLineError(stderr, /^hilt: --port-base ".*": not a port number/);
      }
    });

    it('a --host that is not an address of this machine: exit 2', async function () {
      const { code, stderr } = await hilt(['broker', '--dir', dir, '--host', '192.0.2.1', '--profiles', 'good', '--port-base', '0']);
      expect(code).to.equal(2);
      expectOneLineError(stderr, /^hilt: cannot listen on 192\.0\.2\.1 port \(any\) for listener good \(EADDRNOTAVAIL\): 192\.0\.2\.1 is not an address of this machine/);
    });

    for (const [host, says] of [
      ['203.0.113.7', /^hilt: cannot listen on 203\.0\.113\.7 port \(any\) for listener good \(EADDRNOTAVAIL\): 203\.0\.113\.7 is not an address of this machine/],
      ['no-such-host.invalid', /^hilt: cannot listen on no-such-host\.invalid port \(any\) for listener good \(ENOTFOUND\): no-such-host\.invalid does not resolve/],
    ] as const) {
      it(`a --host it cannot bind (${host}): exit 2, and the certificates never name it`, async function () {
        const before = await ensurePki({ dir });
        const { code, stderr } = await hilt(['broker', '--dir', dir, '--host', host, '--profiles', 'good', '--port-base', '0']);
        expect(code).to.equal(2);
        expectOneLineError(stderr, says);
        const after = await ensurePki({ dir });
        expect(after.manifest.hosts).to.deep.equal(before.manifest.hosts);
        const served = after.manifest.artifacts.find((a) => a.name === 'server-valid') as { names: string[]; sha256: string };
        expect(served.names).to.not.include(host);
        expect(served.sha256, 'server certificate not reissued').to.equal(
          (before.manifest.artifacts.find((a) => a.name === 'server-valid') as { sha256: string }).sha256);
      });
    }

    it('--host: binds there and puts the address on the server certificates', async function () {
      const { child, seen, exited } = startBroker(['--dir', dir, '--port-base', '0', '--json', '--profiles', 'good', '--host', '127.0.0.2']);
      try {
        await readUntil(child, (o) => o.type === 'ready', seen);
        const good = seen.find((o) => o.type === 'listener')!;
        expect(good).to.include({ host: '127.0.0.2' });
        const pki = await ensurePki({ dir });
        expect(pki.manifest.hosts).to.include('127.0.0.2');
        const tls = await sClient(good.port as number, ['-CAfile', pki.path('bundle-current'), '-verify_ip', '127.0.0.2',
          '-cert', pki.path('client-valid'), '-key', pki.path('client-valid', 'key')], '127.0.0.2');
        expect(tls).to.include({ established: true, verifyError: null });
        child.kill('SIGINT');
        expect(await exited).to.equal(0);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('warns on stderr about a key whose mode drifted, and sets it back', async function () {
      await ensurePki({ dir });
      await chmod(join(dir, 'server/valid.key'), 0o604);
      const { child, seen, exited } = startBroker(['--dir', dir, '--port-base', '0', '--json', '--profiles', 'good']);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      try {
        await readUntil(child, (o) => o.type === 'ready', seen);
        child.kill('SIGINT');
        expect(await exited).to.equal(0);
        expect(stderr).to.equal('hilt: warning: server-valid: key server/valid.key was mode 0604, open to others: ' +
          'set to 0600 (if others could read it, treat the key as exposed)\n');
        expect((await stat(join(dir, 'server/valid.key'))).mode & 0o777).to.equal(0o600);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('--json: prints listeners, logs attempts, and closes cleanly on Ctrl-C', async function () {
      const { child, seen, exited } = startBroker(['--dir', dir, '--port-base', '0', '--json', '--profiles', 'good,plain']);
      try {
        await readUntil(child, (o) => o.type === 'ready', seen);
        const listeners = seen.filter((o) => o.type === 'listener');
        expect(listeners.map((l) => l.profile)).to.deep.equal(['good', 'plain']);
        const good = listeners[0]!;
        expect(good).to.include({ host: '127.0.0.1', clientAuth: 'required' });
        expect(good.url).to.match(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
        expect(good.trust).to.equal(join(dir, 'bundles/current.pem'));

        const pki = await ensurePki({ dir });
        const { client, error } = await mqttConnect(good.url as string, deviceOptions(pki, 'bundle-current', 'client-valid'));
        expect(error).to.equal(null);
        await client!.endAsync();
        const attempt = await readUntil(child, (o) => o.type === 'attempt', seen);
        expect(attempt).to.include({ listener: 'good' });
        expect((attempt.mqtt as { connack: number }).connack).to.equal(0);

        child.kill('SIGINT');
        expect(await exited).to.equal(0);
        // Nothing listens on the lab's port any more.
        const refused = await new Promise<string>((resolve) => {
          const socket = createConnection({ host: '127.0.0.1', port: good.port as number });
          socket.on('connect', () => { socket.destroy(); resolve('connected'); });
          socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        });
        expect(refused).to.equal('ECONNREFUSED');
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
