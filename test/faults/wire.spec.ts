/**
 * Faults between the parts of a run and its report, with real parts: PKI warnings that must reach
 * the user, a lab host that cannot be bound, a device whose output the report must name (an
 * over-long line), a device busy for ever, and a certs folder on a full disk.
 */
import { expect } from 'chai';
import { chmod, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../../harness/pki/index.ts';
import { REPO, hilt, latestResults, scriptedAgent, type AgentScript, type ScriptedAgent, tempDir, writeScenario } from '../helpers.ts';
import { expectOneCleanLine, fill, smallDisks } from './helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

async function latestSummary(dir: string): Promise<string> {
  return readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8');
}

describe('faults: wire (run, PKI and report)', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  const agents: ScriptedAgent[] = [];

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-faults-wire-'));
  });
  /** A scripted agent closed after the test. */
  async function startAgent(script?: AgentScript): Promise<ScriptedAgent> {
    const a = await scriptedAgent(script);
    agents.push(a);
    return a;
  }

  afterEach(async function () {
    for (const a of agents.splice(0)) a.close();
    await remove();
  });

  it('a lab key whose mode drifted: hilt run warns on stderr, and results.json and summary.md say so', async function () {
    const certs = await hilt(['certs', '--dir', 'certs'], { cwd: dir, timeoutMs: 30_000 });
    expect(certs.code, certs.stderr).to.equal(0);
    await chmod(join(dir, 'certs', 'roots', 'current.key'), 0o644);
    const { code, stderr } = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 40_000 });
    expect(code, stderr).to.equal(0);
    const warning = /root-current: key roots\/current\.key was mode 0644, open to others: set to 0600/;
    expect(stderr).to.match(new RegExp(`^hilt: warning: ${warning.source}`, 'm'));
    const r = await latestResults(dir);
    expect(r.run.warnings).to.have.length(1);
    expect(r.run.warnings[0]).to.match(warning);
    expect(await latestSummary(dir)).to.match(new RegExp(`^> ⚠️ Warning: ${warning.source}`, 'm'));
  });

  it('a lab host in hilt.config.json that cannot be bound: exit 2, one line naming the file, certificates unchanged', async function () {
    expect((await hilt(['certs', '--dir', 'certs'], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
    const manifestPath = join(dir, 'certs', 'manifest.json');
    const before = await readFile(manifestPath, 'utf8');
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ lab: { hosts: ['203.0.113.7'] } }));
    const agent = await startAgent();
    const { code, stderr } = await hilt(['run', HAPPY, '--target', agent.target], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stderr).to.equal(2);
    expectOneCleanLine(stderr);
    expect(stderr).to.match(/^hilt: hilt\.config\.json: lab\.hosts: cannot listen on "203\.0\.113\.7" \(EADDRNOTAVAIL\): give an address of this machine/);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    expect(manifest.hosts).to.not.include('203.0.113.7');
    expect(await readFile(manifestPath, 'utf8')).to.equal(before);
    // Stopped before anything started: the device was never contacted.
    expect(agent.heard).to.deep.equal([]);
  });

  it('a lab host this machine has: the run goes on and the server certificates carry it', async function () {
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ lab: { hosts: ['127.0.0.2'] } }));
    const { code, stderr } = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 40_000 });
    expect(code, stderr).to.equal(0);
    const manifest = JSON.parse(await readFile(join(dir, 'certs', 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.hosts).to.include('127.0.0.2');
  });

  it('an over-long console line: the report names it on the scenario it came during, or on the run', async function () {
    let hellos = 0;
    const agent = await startAgent((command, reply, socket) => {
      // At the first hello (opening the device: no scenario yet) and during the scenario's heap.stats.
      if ((command === 'hello' && ++hellos === 1) || command === 'heap.stats') socket.write(`${'x'.repeat(70 * 1024)}\n`);
      reply();
      return true;
    });
    const file = await writeScenario(dir, 'long.spec.ts', `
describe('long lines', () => {
  scenario('reads the heap', async (ctx) => { await ctx.device.command('heap.stats'); });
  scenario('says hello', async (ctx) => { await ctx.device.command('hello'); });
});`);
    const { code, stderr } = await hilt(['run', file, '--target', agent.target], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stderr).to.equal(0);
    const r = await latestResults(dir);
    const overlong = 'device output: a console line ran over 65536 bytes: only its start is kept, the rest of it was dropped';
    expect(r.scenarios.map((s) => s.notes)).to.deep.equal([[overlong], []]);
    expect(r.run.notes).to.deep.equal([overlong]);
    const summary = await latestSummary(dir);
    expect(summary).to.match(/^\| long lines reads the heap \| ✅ pass \| .*device output: a console line ran over 65536 bytes/m);
    expect(summary).to.include(`Device output outside any scenario:\n- ${overlong}`);
  });

  it('a device busy for ever with a leftover command: the scenarios after it are device errors, decided fast, exit 3', async function () {
    // mqtt.connect never gets an answer; the first scenario is cut off by its timeout while it waits.
    const agent = await startAgent((command) => command === 'mqtt.connect');
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { commandMs: 300, helloMs: 500, scenarioMs: 1000 } }));
    const file = await writeScenario(dir, 'busy.spec.ts', `
describe('busy', () => {
  scenario('connects to a broker for a long time', async (ctx) => { await ctx.connect('good', { timeoutMs: 60_000 }); });
  for (const n of [2, 3]) scenario('reads the heap ' + n, async (ctx) => { await ctx.device.command('heap.stats'); });
});`);
    const started = performance.now();
    const { code, stderr } = await hilt(['run', file, '--target', agent.target], { cwd: dir, timeoutMs: 40_000 });
    expect(code, stderr).to.equal(3);
    // One scenario timeout (1 s) and one idle wait (0.6 s), not one per scenario.
    expect(performance.now() - started).to.be.below(15_000);
    const r = await latestResults(dir);
    const why = /^device tcp:127\.0\.0\.1:\d+ stopped answering: .*still busy with mqtt\.connect after 600 ms$/;
    expect(r.run.infrastructureError).to.match(why);
    const byTitle = new Map(r.scenarios.map((s) => [s.title, s]));
    expect(byTitle.get('busy connects to a broker for a long time')!.failure).to.include({ kind: 'timeout' });
    for (const n of [2, 3]) {
      const s = byTitle.get(`busy reads the heap ${n}`)!;
      expect(s.outcome).to.equal('error');
      expect(s.failure).to.deep.equal({ kind: 'infrastructure', message: `not run: ${r.run.infrastructureError}` });
    }
    // The hook that found the device busy is in the report as a device error, not an assertion.
    expect(r.scenarios.filter((s) => s.failure?.kind === 'assertion')).to.deep.equal([]);
    expect(r.totals.failed).to.equal(1);
    // After the cut-off scenario, nothing more was asked of the device.
    expect(agent.heard.slice(agent.heard.indexOf('mqtt.connect') + 1)).to.deep.equal([]);
  });

  it('a certs folder under /proc: exit 2 at once with one line, no hang', async function () {
    const { code, stderr } = await hilt(['certs', '--dir', '/proc/hilt-nothing/certs'], { cwd: dir, timeoutMs: 20_000 });
    expect(code, stderr).to.equal(2);
    expectOneCleanLine(stderr);
    expect(stderr).to.match(/^hilt: certs dir \/proc\/hilt-nothing\/certs cannot be written \(ENOENT\)/);
  });

  describe('a certs folder on a disk that fills (a small tmpfs; needs root and mount)', function () {
    const mountSmallDisk = smallDisks();
    const smallDisk = (ctx: Mocha.Context, size: string) => mountSmallDisk(ctx, join(dir, 'certs'), size);

    /** Every file under `at` but the filler, with its content: what a PKI on disk is. */
    async function files(at: string): Promise<Map<string, string>> {
      const found = new Map<string, string>();
      for (const entry of await readdir(at, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || entry.name === 'filler') continue;
        const path = join(entry.parentPath, entry.name);
        found.set(path.slice(at.length + 1), await readFile(path, 'utf8'));
      }
      return found;
    }

    it('hilt certs on a full folder: exit 2, one line naming it and ENOSPC, nothing left behind (not even the lock)', async function () {
      const at = await smallDisk(this, '1m');
      await fill(at, 0);
      const { code, stderr } = await hilt(['certs', '--dir', at], { cwd: dir, timeoutMs: 20_000 });
      expect(code, stderr).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.include(at).and.include('(ENOSPC)');
      expect([...(await files(at)).keys()]).to.deep.equal([]);
    });

    it('hilt certs where only part of the PKI fits: exit 2, no key without its certificate, and it works once there is room', async function () {
      const at = await smallDisk(this, '1m');
      await fill(at, 64);
      const { code, stderr } = await hilt(['certs', '--dir', at], { cwd: dir, timeoutMs: 20_000 });
      expect(code, stderr).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.match(new RegExp(`^hilt: certs dir ${at}: cannot write \\S+ \\(ENOSPC\\): free some space there, or choose another certs folder; the PKI was left as it was$`, 'm'));
      // Before, the keys written so far stayed without their certificates (and a root's key
      // without its certificate then asked for a backup or --force).
      expect([...(await files(at)).keys()]).to.deep.equal([]);
      await rm(join(at, 'filler'));
      const again = await hilt(['certs', '--dir', at], { cwd: dir, timeoutMs: 30_000 });
      expect(again.code, again.stderr).to.equal(0);
      const pki = await files(at);
      for (const name of pki.keys()) if (name.endsWith('.key')) expect(pki.has(name.replace(/\.key$/, '.crt')), name).to.equal(true);
    });

    it('a refresh that does not fit: the PKI and its manifest stay exactly as they were', async function () {
      const at = await smallDisk(this, '1m');
      expect((await hilt(['certs', '--dir', at], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
      const before = await files(at);
      await fill(at, 16);
      // A new host reissues every server certificate: more than 16 KiB of files.
      const { code, stderr } = await hilt(['certs', '--dir', at, '--host', 'bench.example'], { cwd: dir, timeoutMs: 30_000 });
      expect(code, stderr).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.include('(ENOSPC)');
      expect(await files(at)).to.deep.equal(before);
      expect((JSON.parse(before.get('manifest.json')!) as Manifest).hosts).to.not.include('bench.example');
    });

    it('hilt run --certs on a full folder: exit 2, one line naming it and ENOSPC, and a report saying so', async function () {
      const at = await smallDisk(this, '1m');
      await fill(at, 0);
      const agent = await startAgent();
      const { code, stderr } = await hilt(['run', HAPPY, '--certs', at, '--target', agent.target], { cwd: dir, timeoutMs: 30_000 });
      expect(code, stderr).to.equal(2);
      expectOneCleanLine(stderr);
      expect(stderr).to.include(at).and.include('(ENOSPC)');
      expect([...(await files(at)).keys()]).to.deep.equal([]);
      // The run's folder existed by then: it has its report, saying why the run stopped.
      const r = await latestResults(dir);
      expect(r.run.cutShort).to.equal(`stopped: ${stderr.trim().slice('hilt: '.length)}`);
      expect(r.scenarios.map((s) => [s.outcome, s.failure?.kind])).to.deep.equal([['skipped', 'not-run']]);
    });
  });
});
