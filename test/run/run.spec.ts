/**
 * `hilt run` end to end, as a user runs it: exit statuses, reports written in every case, a
 * hanging scenario cut off, budgets, repetitions, and the bad-input paths.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { HILT_BIN, REPO, hilt, latestResults as results, scriptedAgent, tempDir, writeScenario } from '../helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');
const STALL = join(REPO, 'scenarios', '16-handshake-stall.spec.ts');

describe('hilt run', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-run-'));
  });
  afterEach(() => remove());

  it('runs a scenario on the emulator, exits 0, and writes all three reports with latest pointing at them', async function () {
    const { code, stdout } = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stdout).to.equal(0);
    expect(stdout).to.include('1 passed, 0 failed, 0 errors, 0 skipped');
    const r = await results(dir);
    expect(r.schema).to.equal(1);
    expect(r.run).to.include({ target: 'emulator', cutShort: null, infrastructureError: null });
    expect(r.run.firmware).to.include({ project: 'hilt_test_agent', mac: '24:0a:c4:00:00:01' });
    expect(r.run.security).to.include({ have_time_date: true, tls13: false });
    expect(r.run.fingerprints.trust.map((t) => t.name)).to.deep.equal(['root-current']);
    expect(r.run.fingerprints.served.find((s) => s.listener === 'good')!.name).to.equal('server-valid');
    const [scenario] = r.scenarios;
    expect(scenario).to.include({ outcome: 'passed', repetitions: 1, failure: null });
    const tls = scenario!.metrics.find((m) => m.name === 'tls_ms')!;
    expect(tls).to.include({ unit: 'ms', source: 'model' });
    expect(tls.values).to.have.length(1);
    expect(scenario!.attempts).to.have.length(1);
    expect(scenario!.consoleLog).to.equal(`console/${scenario!.id.replace('/', '--')}.log`);
    expect(scenario!.id).to.match(/^01-mtls-happy-path\/01-/);
    const latest = await readlink(join(dir, 'reports', 'latest'));
    expect(latest).to.equal(r.run.id);
    const log = await readFile(join(dir, 'reports', 'latest', scenario!.consoleLog!), 'utf8');
    expect(log).to.match(/MQTT_EVENT_CONNECTED/);
    // The device's private key went up with store.put; the log keeps the line, not the key.
    expect(log).to.match(/store\.put .*kind=key .*data=<private key part, not logged>/);
    expect(log).to.not.include(Buffer.from('-----BEGIN PRIVATE KEY').toString('base64').slice(0, 20));
    const junit = await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8');
    expect(junit).to.match(/<testsuites name="hilt" tests="1" failures="0" errors="0" skipped="0"/);
    expect(await readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8')).to.include('**1 passed, 0 failed, 0 errors, 0 skipped**');
  });

  it('a failing scenario: exit 1, the failure in every report', async function () {
    const file = await writeScenario(dir, 'fails.spec.ts', `
describe('a scenario that expects the impossible', () => {
  scenario('expects a wrong CA to be accepted', async (ctx) => {
    const result = await ctx.connect('rogue');
    expect(result).to.be.connected();
  });
});`);
    const { code } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    expect(code).to.equal(1);
    const r = await results(dir);
    expect(r.scenarios[0]!.outcome).to.equal('failed');
    expect(r.scenarios[0]!.failure).to.include({ kind: 'assertion' });
    expect(r.scenarios[0]!.failure!.message).to.match(/^expected the device to connect, but it failed: ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED \(-0x2700\), flags 0x8 \(NOT_TRUSTED\)/);
    const junit = await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8');
    expect(junit).to.match(/<failure message="expected the device to connect/);
  });

  it('a scenario that hangs is cut off by its timeout and the run goes on', async function () {
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { scenarioMs: 1500 } }));
    const file = await writeScenario(dir, 'hangs.spec.ts', `
describe('hang', () => {
  scenario('waits for a line the device never prints', async (ctx) => {
    await ctx.device.expect(/this never comes/, { timeoutMs: 600_000 });
  });
  scenario('still runs after the hang', async (ctx) => {
    expect((await ctx.device.command('hello')).proto).to.equal(1);
  });
});`);
    const { code } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    expect(code).to.equal(1);
    const r = await results(dir);
    expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['failed', 'passed']);
    expect(r.scenarios[0]!.failure).to.include({ kind: 'timeout' });
  });

  it('a scenario cut off in the middle of a connect does not spill into the next one', async function () {
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { scenarioMs: 1500 } }));
    const file = await writeScenario(dir, 'overrun.spec.ts', `
describe('overrun', () => {
  scenario('connects to a stalled broker for longer than the scenario may take', async (ctx) => {
    await ctx.connect('stall', { timeoutMs: 3000 });
    await ctx.connect('good');
  });
  scenario('the next scenario gets a device in a known state', async (ctx) => {
    const result = await ctx.connect('good');
    expect(result).to.be.connected();
    await ctx.disconnect(result);
    expect((await ctx.attempt('good')).mqtt).to.include({ connack: 0 });
  });
});`);
    const { code } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    const r = await results(dir);
    expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['failed', 'passed']);
    expect(code).to.equal(1);
    // The cut-off scenario's leftover connect to "good" never happened: only the second scenario's.
    expect(r.scenarios[1]!.attempts.filter((a) => a.listener === 'good')).to.have.length(1);
  });

  it('scenarios with the same title stay apart: own id, own log, own metrics', async function () {
    const file = await writeScenario(dir, 'twins.spec.ts', `
for (const suite of ['twin', 'twin']) {
  describe(suite, () => {
    scenario('connects', async (ctx) => {
      const result = await ctx.connect('good');
      await ctx.disconnect(result);
    });
  });
}`);
    expect((await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
    const r = await results(dir);
    expect(r.scenarios).to.have.length(2);
    expect(new Set(r.scenarios.map((s) => s.id)).size).to.equal(2);
    expect(new Set(r.scenarios.map((s) => s.consoleLog)).size).to.equal(2);
    expect(r.scenarios.map((s) => s.repetitions)).to.deep.equal([1, 1]);
  });

  it('a failing hook fails the run instead of vanishing', async function () {
    const file = await writeScenario(dir, 'hook.spec.ts', `
describe('with a broken hook', () => {
  before(() => { throw new Error('fixture broke'); });
  scenario('never gets to run', async () => {});
});`);
    const { code } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    expect(code).to.equal(1);
    const r = await results(dir);
    expect(r.scenarios.some((s) => s.outcome === 'failed' && /fixture broke/.test(s.failure!.message))).to.equal(true);
  });

  it('a measured value over its budget fails the scenario with "budget exceeded"', async function () {
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ budgets: { tls_ms: '<= 100', heap_peak_used: '<= 48 KiB' } }));
    const { code } = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 30_000 });
    expect(code).to.equal(1);
    const [scenario] = (await results(dir)).scenarios;
    expect(scenario!.failure).to.include({ kind: 'budget' });
    expect(scenario!.failure!.message).to.match(/^budget exceeded: tls_ms median \d+ ms breaks tls_ms <= 100$/);
    expect(scenario!.metrics.find((m) => m.name === 'heap_peak_used')!.budget).to.include({ exceeded: false });
  });

  it('--repeat keeps one value per repetition, with median and p95', async function () {
    const { code } = await hilt(['run', HAPPY, '--repeat', '3'], { cwd: dir, timeoutMs: 30_000 });
    expect(code).to.equal(0);
    const [scenario] = (await results(dir)).scenarios;
    expect(scenario!.repetitions).to.equal(3);
    const tls = scenario!.metrics.find((m) => m.name === 'tls_ms')!;
    expect(tls.values).to.have.length(3);
    expect(tls.p95).to.equal(Math.max(...tls.values));
  });

  it('a panic printed while no command waits still fails the scenario (tcp target, reset=none)', async function () {
    // Prints a Guru Meditation right after answering `heap.stats`, while no command waits.
    const agent = await scriptedAgent((command, reply, socket) => {
      if (command !== 'heap.stats') return false;
      reply();
      socket.write("Guru Meditation Error: Core  0 panic'ed (StoreProhibited). Exception was unhandled.\n");
      return true;
    });
    try {
      const file = await writeScenario(dir, 'crash.spec.ts', `
describe('crash between commands', () => {
  scenario('reads the heap, then waits a moment', async (ctx) => {
    await ctx.device.command('heap.stats');
    await ctx.device.expect(/Guru Meditation/, { since: 0 });
  });
});`);
      const { code } = await hilt(['run', file, '--target', agent.target], { cwd: dir, timeoutMs: 30_000 });
      expect(code).to.equal(1);
      const [scenario] = (await results(dir)).scenarios;
      expect(scenario!.failure).to.include({ kind: 'panic' });
      expect(scenario!.failure!.message).to.match(/StoreProhibited/);
    } finally {
      agent.close();
    }
  });

  it('--grep runs only the matching scenarios; --bail stops at the first failure', async function () {
    const grep = await hilt(['run', join(REPO, 'scenarios', '07-wrong-hostname.spec.ts'), '--grep', 'skip_cn'], { cwd: dir, timeoutMs: 30_000 });
    expect(grep.code).to.equal(0);
    expect((await results(dir)).scenarios.map((s) => s.title)).to.deep.equal(['07 wrong host name with skip_cn=1 connects anyway, and the report says the check was skipped']);
    const file = await writeScenario(dir, 'two.spec.ts', `
describe('two', () => {
  scenario('fails first', async () => { expect(1).to.equal(2); });
  scenario('never runs with --bail', async () => {});
});`);
    const bail = await hilt(['run', file, '--bail'], { cwd: dir, timeoutMs: 30_000 });
    expect(bail.code).to.equal(1);
    const r = await results(dir);
    expect(r.scenarios.map((s) => s.outcome)).to.deep.equal(['failed', 'skipped']);
    // The scenario --bail passed over is in every report, with the reason.
    const [failed, notRun] = r.scenarios;
    expect(notRun).to.include({ title: 'two never runs with --bail', repetitions: 0, consoleLog: null });
    expect(notRun!.failure).to.deep.equal({ kind: 'not-run', message: `not run: --bail after ${failed!.id} failed` });
    expect(r.run.cutShort).to.equal(`--bail after ${failed!.id} failed`);
    const junit = await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8');
    expect(junit).to.include(`<skipped message="not run: --bail after ${failed!.id} failed"/>`);
    expect(await readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8')).to.match(/\| two never runs with --bail \| ⏭ skipped \|.*not run: --bail after /);
  });

  it('scenario ids and console log names do not depend on which scenarios run', async function () {
    const file = await writeScenario(dir, 'ids.spec.ts', `
describe('ids', () => {
  scenario('first', async () => {});
  scenario('second', async () => {});
  scenario('second', async () => {});
});`);
    expect((await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
    const all = (await results(dir)).scenarios;
    expect(all.map((s) => s.id)).to.deep.equal(['ids/ids-first', 'ids/ids-second', 'ids/ids-second-2']);
    expect(all.map((s) => s.consoleLog)).to.deep.equal(['console/ids--ids-first.log', 'console/ids--ids-second.log', 'console/ids--ids-second-2.log']);
    expect((await hilt(['run', file, '--grep', 'second'], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
    const some = (await results(dir)).scenarios;
    expect(some.map((s) => s.id)).to.deep.equal(['ids/ids-second', 'ids/ids-second-2']);
    expect(some.map((s) => s.consoleLog)).to.deep.equal(['console/ids--ids-second.log', 'console/ids--ids-second-2.log']);
  });

  it('--repeat gives every repetition the scenario timeout (the stall scenario three times)', async function () {
    // One repetition of the stall scenario takes about 2 s; three do not fit in one 3 s timeout.
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { scenarioMs: 3000 } }));
    const { code, stdout } = await hilt(['run', STALL, '--repeat', '3'], { cwd: dir, timeoutMs: 40_000 });
    expect(code, stdout).to.equal(0);
    const [scenario] = (await results(dir)).scenarios;
    expect(scenario).to.include({ outcome: 'passed', repetitions: 3 });
  });

  it('runs hilt\'s own catalogue by default, from any folder, and shows its files as hilt/scenarios/...', async function () {
    const { code, stdout } = await hilt(['run', '--grep', '^01 '], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stdout).to.equal(0);
    const r = await results(dir);
    expect(r.scenarios.map((s) => s.file)).to.deep.equal(['hilt/scenarios/01-mtls-happy-path.spec.ts']);
  });

  it('the scenarios setting of hilt.config.json names the team\'s own: folders (not their subfolders) and globs; the command line wins', async function () {
    for (const sub of ['hil', join('hil', 'later'), 'vendor']) await mkdir(join(dir, sub));
    const passing = (title: string) => `describe('${title}', () => { scenario('answers hello', async (ctx) => { expect((await ctx.device.command('hello')).proto).to.equal(1); }); });`;
    await writeScenario(join(dir, 'hil'), 'b.spec.ts', passing('hil b'));
    await writeScenario(join(dir, 'hil'), 'a.spec.ts', passing('hil a'));
    await writeScenario(join(dir, 'hil'), 'helpers.ts', 'export const notAScenario = 1;');
    await writeScenario(join(dir, 'hil', 'later'), 'c.spec.ts', passing('hil later c'));
    await writeScenario(join(dir, 'vendor'), 'hil-d.spec.ts', passing('vendor d'));
    await writeScenario(join(dir, 'vendor'), 'other.spec.ts', passing('vendor other'));
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ scenarios: ['hil', 'vendor/hil-*.spec.ts'] }));
    expect((await hilt(['run'], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
    expect((await results(dir)).scenarios.map((s) => s.file)).to.deep.equal(['hil/a.spec.ts', 'hil/b.spec.ts', 'vendor/hil-d.spec.ts']);
    expect((await hilt(['run', 'hil/later'], { cwd: dir, timeoutMs: 30_000 })).code).to.equal(0);
    expect((await results(dir)).scenarios.map((s) => s.file)).to.deep.equal(['hil/later/c.spec.ts']);
  });

  describe('bad input', function () {
    it('an unknown target kind: exit 2, one line', async function () {
      const { code, stderr } = await hilt(['run', HAPPY, '--target', 'jtag:build'], { cwd: dir });
      expect(code).to.equal(2);
      expect(stderr.trim()).to.match(/^hilt: --target jtag:build: unknown kind "jtag": use one of emulator, serial, tcp/);
    });

    it('a bad target in hilt.config.json: exit 2, one line naming the file and the field, not the flag', async function () {
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ target: 'jtag:build' }));
      const kind = await hilt(['run', HAPPY], { cwd: dir });
      expect(kind.code).to.equal(2);
      expect(kind.stderr).to.equal('hilt: hilt.config.json: target jtag:build: unknown kind "jtag": use one of emulator, serial, tcp, rfc2217, qemu, native (e.g. serial:/dev/ttyUSB0)\n');
      await writeFile(join(dir, 'bench.json'), JSON.stringify({ target: 'tcp:localhost' }));
      const shape = await hilt(['run', HAPPY, '--config', 'bench.json'], { cwd: dir });
      expect(shape.code).to.equal(2);
      expect(shape.stderr).to.equal('hilt: bench.json: target tcp:localhost: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:5555\n');
      // The flag wins over the file, and is the one named.
      const flag = await hilt(['run', HAPPY, '--config', 'bench.json', '--target', 'serial:ttyUSB0'], { cwd: dir });
      expect(flag.stderr).to.equal("hilt: --target serial:ttyUSB0: give the port's path, e.g. serial:/dev/ttyUSB0, or its identity, e.g. serial:?serial_number=0001\n");
    });

    it('a serial port that does not exist: exit 3, says so with the ports found, report written', async function () {
      const { code, stderr } = await hilt(['run', HAPPY, '--target', 'serial:/dev/ttyHILT9'], { cwd: dir, timeoutMs: 30_000 });
      expect(code).to.equal(3);
      expect(stderr).to.match(/serial port \/dev\/ttyHILT9 does not exist; serial ports found: /);
      const r = await results(dir);
      expect(r.run.infrastructureError).to.match(/\/dev\/ttyHILT9 does not exist/);
      // The scenario the run could not reach is listed as a device error, with the reason.
      expect(r.scenarios.map((s) => [s.outcome, s.failure!.kind])).to.deep.equal([['error', 'infrastructure']]);
      expect(r.scenarios[0]!.failure!.message).to.match(/^not run: device serial \/dev\/ttyHILT9.*does not exist/);
      // CI servers see a red error, not "0 tests".
      const junit = await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8');
      expect(junit).to.match(/<testsuites name="hilt" tests="2" failures="0" errors="2"/);
      expect(junit).to.match(/<error message="device serial \/dev\/ttyHILT9/);
    });

    it('a device that never answers hello: exit 3 after the hello timeout, report written', async function () {
      const silent = createServer(() => { /* accepts, says nothing */ });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ timeouts: { helloMs: 500 } }));
        const port = (silent.address() as { port: number }).port;
        const { code, stderr } = await hilt(['run', HAPPY, '--target', `tcp:127.0.0.1:${port}`], { cwd: dir, timeoutMs: 30_000 });
        expect(code).to.equal(3);
        expect(stderr).to.match(/no reply to hello within 500 ms: is the test agent firmware running on it\?/);
        expect((await results(dir)).run.infrastructureError).to.match(/no reply to hello/);
      } finally {
        silent.close();
      }
    });

    it('a malformed config: exit 2 naming the field', async function () {
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ repeat: 'often' }));
      const { code, stderr } = await hilt(['run', HAPPY], { cwd: dir });
      expect(code).to.equal(2);
      expect(stderr.trim()).to.equal('hilt: hilt.config.json: repeat: expected a whole number from 1 to 1000');
    });

    it('a scenario file that does not load: exit 2, one line naming it', async function () {
      const file = await writeScenario(dir, 'broken.spec.ts', `describe('broken', () => { scenario('x', async () => {}); `);
      const { code, stderr } = await hilt(['run', file], { cwd: dir });
      expect(code).to.equal(2);
      expect(stderr.trim().split('\n')).to.have.length(1);
      expect(stderr).to.match(/^hilt: scenario file broken\.spec\.ts does not load: /);
    });

    it('a scenario file with a syntax error: exit 2, one line with the file, line, column and what is wrong', async function () {
      // Line 1 is the import writeScenario adds; the stray ";" is on line 4, column 15.
      const file = await writeScenario(dir, 'syntax.spec.ts', `describe('broken', () => {
  scenario('x', async () => {
    const a = ;
  });
});`);
      const { code, stderr } = await hilt(['run', file], { cwd: dir });
      expect(code).to.equal(2);
      expect(stderr.trim()).to.equal('hilt: scenario file syntax.spec.ts does not load: syntax.spec.ts:4:15: Unexpected ";"');
    });

    it('a scenarios setting or a path that matches nothing: exit 2, naming where it came from', async function () {
      await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ scenarios: ['hil/', 'nowhere/*.spec.ts'] }));
      await mkdir(join(dir, 'hil'));
      await writeScenario(join(dir, 'hil'), 'a.spec.ts', `describe('a', () => { scenario('a', async () => {}); });`);
      const fromConfig = await hilt(['run'], { cwd: dir });
      expect(fromConfig.code).to.equal(2);
      expect(fromConfig.stderr.trim()).to.equal('hilt: no scenario files match nowhere/*.spec.ts (from hilt.config.json, field scenarios): scenario files end in .spec.ts (or .spec.js, .spec.mjs, .spec.cjs, .spec.mts, .spec.cts)');
      const fromCli = await hilt(['run', 'hil/nope.spec.ts'], { cwd: dir });
      expect(fromCli.code).to.equal(2);
      expect(fromCli.stderr.trim()).to.match(/^hilt: scenario file hil\/nope\.spec\.ts does not exist \(from the command line\): give a file, a folder or a glob/);
    });

    it('--grep that matches nothing: exit 2', async function () {
      const { code, stderr } = await hilt(['run', HAPPY, '--grep', 'zzz'], { cwd: dir });
      expect(code).to.equal(2);
      expect(stderr.trim()).to.equal('hilt: no scenario title matches --grep "zzz"');
    });

    it('a scenario file that does not exist: exit 2', async function () {
      const { code, stderr } = await hilt(['run', 'scenarios/nope.spec.ts'], { cwd: dir });
      expect(code).to.equal(2);
      expect(stderr.trim()).to.match(/^hilt: scenario file scenarios\/nope\.spec\.ts does not exist/);
    });
  });

  it('Ctrl-C: stops, cleans up, and still writes the report saying the run was cut short', async function () {
    const child = spawn(process.execPath, [HILT_BIN, 'run', STALL], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Interrupt once the stall scenario is under way (the device is waiting on the stalled broker).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the run never started')), 20_000);
      child.stdout.on('data', (d: Buffer) => { if (/16 handshake stall/.test(d.toString())) { clearTimeout(timer); resolve(); } });
    });
    const interruptedAt = performance.now();
    child.kill('SIGINT');
    expect(await exited).to.equal(130);
    // The stall would take 2 s; Ctrl-C does not wait for it.
    expect(performance.now() - interruptedAt).to.be.below(1_900);
    const r = await results(dir);
    expect(r.run.cutShort).to.equal('interrupted (SIGINT)');
    // Ctrl-C may land before the scenario began (it is listed as not run) or while it or its
    // hook ran: then the report says the run was interrupted there, not that the firmware failed.
    expect(r.scenarios).to.have.length.above(0);
    for (const s of r.scenarios) {
      if (s.outcome === 'skipped') expect(s.failure).to.deep.equal({ kind: 'not-run', message: 'not run: the run was interrupted (SIGINT) before this scenario began' });
      else {
        expect(s).to.include({ outcome: 'error' });
        expect(s.failure!.message).to.equal('run interrupted (SIGINT) while this scenario ran');
      }
    }
  });
});
