/**
 * Faults of the low-heap search (ctx.findHeapSplit): catalogue scenario 10 run by `hilt run`
 * against scripted agents whose heap does not behave. Each fails the scenario with one message
 * saying what the device did (exit 1), never a hang or a reserve taken from a guess.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { REPO, hilt, latestResults, scriptedAgent, type ScriptedAgent, tempDir } from '../helpers.ts';

const SCENARIO_10 = join(REPO, 'scenarios', '10-low-heap-setup.spec.ts');

/** A connect result as docs/protocol.md has it: connected, heap figures of the device's own. */
const connected = (free: number) => ({
  connected: true, tls: { version: 'TLSv1.2', cipher: 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', alpn: null, peer: null }, error: null,
  timing: { dns_ms: 0, tcp_ms: 1, tls_ms: 10, mqtt_ms: 1, total_ms: 12, source: 'device' },
  heap: { before: free, min: free - 30_000, after: free - 28_000, peak_used: 30_000, source: 'device' },
  mqtt: { session_present: false, connack: 0 },
});

describe('faults: the low-heap search', function () {
  this.timeout(120_000);
  let dir: string;
  let remove: () => Promise<void>;
  const agents: ScriptedAgent[] = [];
  before(async () => ({ dir, remove } = await tempDir()));
  after(async () => {
    for (const a of agents) a.close();
    await remove();
  });

  const runAgainst = async (agent: ScriptedAgent) => {
    agents.push(agent);
    const { code, stderr } = await hilt(['run', SCENARIO_10, '--target', agent.target], { cwd: dir, timeoutMs: 90_000 });
    const r = await latestResults(dir);
    return { code, stderr, scenario: r.scenarios[0]! };
  };

  it('a device whose heap.reserve takes nothing: the search says so', async function () {
    const agent = await scriptedAgent((command, _reply, socket, id) => {
      if (command !== 'mqtt.connect') return false;
      socket.write(`@hil ${id} ok ${JSON.stringify(connected(100_000))}\n`);
      return true;
    });
    const { code, stderr, scenario } = await runAgainst(agent);
    expect(code, stderr).to.equal(1);
    expect(scenario.outcome).to.equal('failed');
    expect(scenario.failure!.message).to.match(/heap\.reserve does not seem to take memory/);
  });

  it('a device that loses heap on each connect: the search stops with what is missing', async function () {
    let free = 100_000;
    const agent = await scriptedAgent((command, _reply, socket, id) => {
      if (command === 'heap.stats' || command === 'heap.release') {
        socket.write(`@hil ${id} ok ${JSON.stringify(command === 'heap.stats' ? { free, min_free: free, largest: free } : { free })}\n`);
        return true;
      }
      if (command !== 'mqtt.connect') return false;
      socket.write(`@hil ${id} ok ${JSON.stringify(connected(free))}\n`);
      free -= 100;
      return true;
    });
    const { code, stderr, scenario } = await runAgainst(agent);
    expect(code, stderr).to.equal(1);
    expect(scenario.outcome).to.equal('failed');
    expect(scenario.failure!.message).to.equal('heap did not return to its level during the search: 100 B missing with 100000 B left free');
  });
});
