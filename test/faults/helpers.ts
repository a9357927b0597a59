/** Plumbing shared by the fault catalogue: what a clean error looks like, and small disks that fill. */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../helpers.ts';

/** One line on stderr, no stack trace, no mocha complaint. */
export function expectOneCleanLine(stderr: string): void {
  expect(stderr.trim().split('\n'), stderr).to.have.length(1);
  expect(stderr).to.match(/^hilt: /);
  expect(stderr).to.not.match(/\n\s+at |done\(\) called multiple times|internal error/);
}

/**
 * Small tmpfs disks for the tests of the enclosing describe block (needs root and mount), unmounted
 * after each test. The returned function mounts one of `size` on the new folder `at`, or skips the
 * test saying why.
 */
export function smallDisks(): (ctx: Mocha.Context, at: string, size: string) => Promise<string> {
  const mounted: string[] = [];
  afterEach(async function () {
    for (const at of mounted.splice(0)) await run('umount', ['-l', at]);
  });
  return async (ctx, at, size) => {
    await mkdir(at);
    const mount = await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]).catch((err: Error) => ({ code: -1, stderr: err.message, stdout: '' }));
    if (mount.code !== 0) {
      const why = `cannot mount a tmpfs here: ${mount.stderr.trim() || `exit ${mount.code}`}`;
      // CI runs as root on a machine that can mount (.ci/run sets this): there a skip would hide the test.
      if (process.env.HILT_FAULTS_NEED_MOUNT === '1') throw new Error(`${why} (HILT_FAULTS_NEED_MOUNT=1)`);
      console.log(`      (skipped: ${why})`);
      ctx.skip();
    }
    mounted.push(at);
    return at;
  };
}

/** Fills the file system at `at`: to the last byte, or leaving about `leaveKiB` free. */
export async function fill(at: string, leaveKiB?: number): Promise<void> {
  let count = '';
  if (leaveKiB !== undefined) {
    const df = await run('df', ['-k', '--output=avail', at]);
    const avail = Number(df.stdout.trim().split('\n').at(-1));
    count = ` count=${Math.max(0, Math.floor((avail - leaveKiB) / 4))}`;
  }
  const r = await run('sh', ['-c', `dd if=/dev/zero of=${join(at, 'filler')} bs=4k${count} 2>/dev/null; true`]);
  expect(r.code).to.equal(0);
}
