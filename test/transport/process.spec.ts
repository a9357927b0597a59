/**
 * What only a child process does: it dies with an exit status and a stderr that says why, it may
 * ignore SIGTERM, and its last words must arrive before its death is announced.
 */
import { expect } from 'chai';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessTransport, TransportError, type CloseInfo, type Transport } from '../../harness/transport/index.ts';
import { rejection, tempDir } from '../helpers.ts';

function node(script: string): ProcessTransport {
  return new ProcessTransport({ command: process.execPath, args: ['-e', script] });
}

function nextClose(transport: Transport, ms = 10_000): Promise<CloseInfo> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'close' within ${ms} ms`)), ms);
    transport.once('close', (info) => { clearTimeout(timer); resolve(info); });
  });
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('process transport', function () {
  it('a child that dies says its exit code and the last lines of its stderr, on one line', async function () {
    const transport = node(`
      for (let i = 1; i <= 8; i++) console.error('boot step ' + i);
      console.error('E (812) flash: read error at 0x10000');
      process.exit(3);
    `);
    const closed = nextClose(transport);
    await transport.open();
    const info = await closed;
    expect(info.expected).to.equal(false);
    expect(info.reason).to.match(/^process .* exited with code 3; stderr: boot step 5 \| boot step 6 \| boot step 7 \| boot step 8 \| E \(812\) flash: read error at 0x10000$/);
    expect(transport.stderrTail).to.not.include('boot step 4');
  });

  it('a child killed by a signal says which', async function () {
    const transport = node('setInterval(() => {}, 1000)');
    const closed = nextClose(transport);
    await transport.open();
    process.kill(transport.pid!, 'SIGKILL');
    const info = await closed;
    expect(info).to.deep.include({ expected: false });
    expect(info.reason).to.match(/was killed by SIGKILL$/);
  });

  it("the child's last output arrives before its 'close'", async function () {
    const transport = node("process.stdout.write('I (950) app: done\\n'); process.exit(0)");
    const order: string[] = [];
    transport.on('data', (chunk) => order.push(chunk.toString()));
    const closed = nextClose(transport).then((info) => { order.push('close'); return info; });
    await transport.open();
    expect((await closed).reason).to.match(/exited with code 0$/);
    expect(order.join('')).to.equal('I (950) app: done\nclose');
  });

  it('close() ends a child that ignores SIGTERM with SIGKILL, within bounds', async function () {
    const transport = node("process.on('SIGTERM', () => {}); process.stdin.resume(); setInterval(() => {}, 1000); console.log('ready')");
    const ready = new Promise<void>((resolve) => transport.on('data', (c) => { if (c.toString().includes('ready')) resolve(); }));
    await transport.open();
    await ready;
    const pid = transport.pid!;
    const started = Date.now();
    await transport.close();
    const took = Date.now() - started;
    expect(alive(pid)).to.equal(false);
    expect(took).to.be.within(1_900, 4_500);
  });

  it('close() of a well-behaved child is quick and leaves no process behind', async function () {
    const transport = node('process.stdin.pipe(process.stdout)');
    await transport.open();
    const pid = transport.pid!;
    const started = Date.now();
    await transport.close();
    expect(Date.now() - started).to.be.below(1_500);
    expect(alive(pid)).to.equal(false);
  });

  it('says when the working directory, not the command, is missing', async function () {
    const transport = new ProcessTransport({ command: process.execPath, args: ['-e', ''], cwd: '/no/such/dir/hilt' });
    const err = await rejection(transport.open());
    expect(err).to.be.instanceOf(TransportError);
    expect(err.message).to.match(/working directory \/no\/such\/dir\/hilt does not exist$/);
  });

  it('says when the command is not executable', async function () {
    const tmp = await tempDir();
    try {
      const script = join(tmp.dir, 'bridge.sh');
      await writeFile(script, '#!/bin/sh\ncat\n');
      await chmod(script, 0o644);
      const err = await rejection(new ProcessTransport({ command: script }).open());
      expect(err.message).to.equal(`command ${script} is not executable (EACCES): check its path and permissions (chmod +x)`);
    } finally {
      await tmp.remove();
    }
  });

  it('its description shows the command line, with long arguments cut', function () {
    const transport = new ProcessTransport({ command: 'qemu-system-xtensa', args: ['-nographic', '-machine', 'esp32', '-drive', `file=${'x'.repeat(60)}.bin,if=mtd,format=raw`] });
    expect(transport.description).to.equal(`process qemu-system-xtensa -nographic -machine esp32 -drive file=${'x'.repeat(32)}...`);
  });
});
