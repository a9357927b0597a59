/**
 * A port taken by another program: the lab's broker and the emulator's TCP boards each stop with
 * one line naming the port, and exit 2 (a port is something the user can change: README, exit
 * statuses), even when other listeners or boards had already started. Real occupied ports.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { hilt, tempDir } from '../helpers.ts';

function listen(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port }, () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * `count` consecutive free ports, the middle one held by a server of ours (as another program
 * would hold it). Bounded: a machine with no such run in ten tries fails the test, saying so.
 */
async function runWithMiddleTaken(count: number): Promise<{ base: number; taken: number; holder: Server }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const first = await listen(0);
    const base = (first!.address() as { port: number }).port;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => listen(base + 1 + i)));
    const all = [first!, ...rest];
    if (base + count <= 65519 && rest.every((s) => s !== null)) {
      const taken = base + Math.floor(count / 2);
      const holder = all[taken - base]!;
      await Promise.all(all.filter((s): s is Server => s !== null && s !== holder).map(close));
      return { base, taken, holder };
    }
    await Promise.all(all.filter((s): s is Server => s !== null).map(close));
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1 in ten tries`);
}

function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).to.have.length(1);
  expect(lines[0]).to.match(pattern);
  expect(stderr).to.not.match(/internal error|^\s+at /m);
}

describe('fault catalogue: a port taken by another program', function () {
  this.timeout(30_000);
  let dir: string;
  let remove: () => Promise<void>;
  let holder: Server | null = null;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-ports-'));
  });
  afterEach(async function () {
    if (holder) await close(holder);
    holder = null;
    await remove();
  });

  it('hilt broker --port-base: the listener whose port is taken is named, exit 2', async function () {
    const run = await runWithMiddleTaken(3);
    holder = run.holder;
    const { code, stdout, stderr } = await hilt(['broker', '--dir', dir, '--profiles', 'good,plain,stall', '--port-base', String(run.base)], { timeoutMs: 20_000 });
    expect(code, stderr).to.equal(2);
    expectOneLine(stderr, new RegExp(`^hilt: cannot listen on 127\\.0\\.0\\.1 port ${run.taken} for listener plain \\(EADDRINUSE\\): stop what holds it or choose another --port-base$`));
    expect(stdout).to.not.match(/listening/);
  });

  it('hilt emulate --tcp: the board whose port is taken is named, exit 2', async function () {
    const run = await runWithMiddleTaken(3);
    holder = run.holder;
    const { code, stdout, stderr } = await hilt(['emulate', '--tcp', String(run.base), '--count', '3'], { timeoutMs: 20_000 });
    expect(code, stderr).to.equal(2);
    expectOneLine(stderr, new RegExp(`^hilt: --tcp: cannot listen on 127\\.0\\.0\\.1 port ${run.taken} \\(EADDRINUSE\\): choose another port$`));
    expect(stdout).to.equal('');
  });
});
