/**
 * Scenario 17 (low stack) against devices that do not crash the way it expects, through
 * `hilt run`: each ends the scenario in bounded time with what happened named, never a hang or
 * a pass. The devices are scripted agents on a real TCP socket.
 */
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { REPO, hilt, latestResults, scriptedAgent, tempDir } from '../helpers.ts';

const LOW_STACK = join(REPO, 'scenarios', '17-low-stack.spec.ts');
const COMMAND_MS = 2_000;

describe('faults: the low-stack scenario on devices that misbehave', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  let closeAgent: (() => void) | null = null;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-stack-faults-'));
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { commandMs: COMMAND_MS } }));
  });
  afterEach(async () => {
    closeAgent?.();
    closeAgent = null;
    await remove();
  });

  /** Runs scenario 17 on a scripted device whose connect does `onConnect` (and never replies). */
  async function runWith(onConnect: (socket: Socket) => void) {
    const agent = await scriptedAgent((command, _reply, socket) => {
      if (command !== 'tls.connect') return false;
      onConnect(socket);
      return true;
    });
    closeAgent = agent.close;
    const ran = await hilt(['run', LOW_STACK, '--target', agent.target], { cwd: dir, timeoutMs: 45_000 });
    const [scenario] = (await latestResults(dir)).scenarios;
    return { ...ran, scenario: scenario! };
  }

  it("a device that neither replies nor panics: the connect's own bound ends it, naming the connect", async function () {
    // (hilt() itself is bounded at 45 s: a hang fails this test rather than holding it)
    const { code, scenario } = await runWith(() => { /* silent */ });
    expect(code).to.equal(3);
    expect(scenario.failure).to.deep.include({ kind: 'infrastructure' });
    expect(scenario.failure!.message).to.match(/: no reply to tls\.connect within \d+ ms$/);
  });

  it('a device that crashes another way: the scenario fails as that panic, at once', async function () {
    const { code, scenario } = await runWith((socket) => {
      socket.write("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n");
    });
    expect(code).to.equal(1);
    expect(scenario.failure).to.deep.include({ kind: 'panic' });
    expect(scenario.failure!.message).to.match(/^device guru meditation: LoadProhibited/);
  });

  it('a device that overflows and never boots again: the wait for the boot is bounded and says so', async function () {
    const { code, scenario } = await runWith((socket) => {
      socket.write('***ERROR*** A stack overflow in task hilt_connect has been detected.\n\nBacktrace: 0x40081a2e:0x3ffb9c60\n\nRebooting...\n');
    });
    expect(code).to.be.oneOf([1, 3]);
    expect(scenario.outcome).to.not.equal('passed');
    expect(scenario.failure!.message).to.equal(`the device panicked as expected (stack overflow in task hilt_connect) but sent no boot event within ${COMMAND_MS} ms after it`);
  });
});
