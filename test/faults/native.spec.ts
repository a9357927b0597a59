/**
 * `hilt native build` on a machine that cannot do it, as a user meets it: no compiler, a compiler
 * without 32-bit support, a tarball that is not the pinned one, no way to reach Debian. One line
 * on stderr naming what to install or set, exit 2 (fix the machine) or 3 (source unreachable), no
 * stack, and nothing half-built left in the cache.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIRMWARE_DIR } from '../../harness/native/build.ts';
import { HILT_BIN, run, tempDir } from '../helpers.ts';

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines, stderr).to.have.length(1);
  expect(stderr).to.not.match(/\n\s+at /);
  return lines[0]!;
}

/**
 * Whether `pid` has ended (gone, or a zombie awaiting its reaper). SIGKILL to a process group
 * takes effect as each member is next scheduled, so this looks for up to 5 s: the kernel says
 * nothing when that happens.
 */
async function gone(pid: number): Promise<boolean> {
  for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (stat === null || /^\d+ \(.*\) Z /.test(stat)) return true;
  }
  return false;
}

async function script(path: string, body: string): Promise<string> {
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('native build faults', function () {
  this.timeout(120_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  const cache = () => join(tmp.dir, 'cache');
  const nativeBuild = (env: NodeJS.ProcessEnv) =>
    run(process.execPath, [HILT_BIN, 'native', 'build'], { cwd: tmp.dir, timeoutMs: 110_000, env: { ...process.env, HILT_NATIVE_CACHE: cache(), ...env } });

  beforeEach(async () => { tmp = await tempDir(); });
  afterEach(async () => { await tmp.remove(); });

  it('no C compiler: exit 2, one line naming the Debian packages', async () => {
    const r = await nativeBuild({ CC: join(tmp.dir, 'no-such-cc') });
    expect(r.code).to.equal(2);
    const line = oneLine(r.stderr);
    expect(line).to.include('no-such-cc not found').and.include('gcc-multilib').and.include('apt-get install');
  });

  it('a compiler without 32-bit support: exit 2, one line saying why 32 bits and what to install', async () => {
    // gcc without gcc-multilib fails at link time for -m32 ("cannot find crt1.o"); this one does the same.
    const cc = await script(join(tmp.dir, 'cc64'), 'for a in "$@"; do [ "$a" = -m32 ] && { echo "/usr/bin/ld: cannot find Scrt1.o: No such file or directory" >&2; exit 1; }; done\nexec gcc "$@"');
    const r = await nativeBuild({ CC: cc });
    expect(r.code).to.equal(2);
    const line = oneLine(r.stderr);
    expect(line).to.match(/-m32 cannot build a program \(.*cannot find Scrt1\.o/).and.include('32 bits like the ESP32').and.include('gcc-multilib');
    expect(await readdir(cache()).catch(() => [])).to.not.satisfy((names: string[]) => names.some((n) => n.startsWith('mbedtls-') && !n.endsWith('.lock')));
  });

  it('a tarball that is not the pinned one: exit 2, one line naming the pin', async () => {
    const fake = join(tmp.dir, 'mbedtls_3.6.6.orig.tar.bz2');
    await writeFile(fake, 'not mbed tls');
    const r = await nativeBuild({ HILT_MBEDTLS_TARBALL: fake });
    expect(r.code).to.equal(2);
    expect(oneLine(r.stderr)).to.include('SHA-256 is not the pinned 8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a');
    expect(await readdir(join(cache(), 'downloads'))).to.deep.equal([]);
  });

  it('Debian unreachable: exit 3, one line saying what failed and how to work around it', async () => {
    // An apt-get that fails the way it does with no network, first on PATH.
    const bin = join(tmp.dir, 'bin');
    await run('/bin/mkdir', [bin]);
    await script(join(bin, 'apt-get'), 'echo "Err:1 http://deb.debian.org/debian trixie InRelease" >&2\necho "E: Failed to fetch http://deb.debian.org/debian/dists/trixie/InRelease  Temporary failure resolving" >&2\nexit 100');
    const r = await nativeBuild({ PATH: `${bin}:${process.env.PATH}` });
    expect(r.code).to.equal(3);
    const line = oneLine(r.stderr);
    expect(line).to.include('apt-get update').and.include('failed').and.include('HILT_MBEDTLS_TARBALL');
    const entries = await readdir(cache());
    expect(entries.filter((n) => n.includes('.partial-')), 'no half-built folder').to.deep.equal([]);
  });

  it('Ctrl-C during the build: exit 130, one line, its processes gone, no folder left', async () => {
    // An apt-get that says where it is through a FIFO (the event the test waits for), then hangs
    // as on a dead network; Ctrl-C must end it with the build.
    const bin = join(tmp.dir, 'bin');
    const fifo = join(tmp.dir, 'started');
    await run('/bin/mkdir', [bin]);
    await run('/usr/bin/mkfifo', [fifo]);
    await script(join(bin, 'apt-get'), `echo $$ > ${tmp.dir}/apt.pid\necho started > ${fifo}\nexec sleep 60`);
    const child = spawn(process.execPath, [HILT_BIN, 'native', 'build'], {
      cwd: tmp.dir, env: { ...process.env, HILT_NATIVE_CACHE: cache(), PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => {
      createReadStream(fifo).once('data', resolve).once('error', reject);
      void exited.then(() => reject(new Error(`hilt exited before apt-get ran: ${stderr}`)));
    });
    child.kill('SIGINT');
    expect(await exited).to.equal(130);
    expect(oneLine(stderr)).to.include('interrupted');
    const pid = Number(await readFile(join(tmp.dir, 'apt.pid'), 'utf8'));
    expect(await gone(pid), 'the hanging apt-get was killed').to.equal(true);
    expect((await readdir(cache())).filter((n) => n.startsWith('mbedtls-') && !n.endsWith('.log'))).to.deep.equal([]);
  });

  it('fetch.sh alone: no apt-get at all is exit 3 with one line', async () => {
    // A PATH with the tools fetch.sh uses but no apt-get.
    const bin = join(tmp.dir, 'bin');
    await run('/bin/mkdir', [bin]);
    for (const tool of ['bash', 'mkdir', 'sha256sum', 'cut', 'mktemp', 'rm', 'cp', 'mv', 'grep', 'id', 'head', 'dirname']) {
      const found = await run('/bin/sh', ['-c', `command -v ${tool}`]);
      await run('/bin/ln', ['-s', found.stdout.trim(), join(bin, tool)]);
    }
    const r = await run(join(FIRMWARE_DIR, 'host/mbedtls/fetch.sh'), [join(tmp.dir, 'dl')], { env: { PATH: bin } });
    expect(r.code).to.equal(3);
    expect(oneLine(r.stderr)).to.include('apt-get not found').and.include('HILT_MBEDTLS_TARBALL');
  });
});
