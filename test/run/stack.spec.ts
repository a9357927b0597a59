/**
 * The connect task's stack through `hilt run` on the emulator: stack_peak_used recorded and
 * budgeted like heap and shown by every report, the low-stack scenario passing on the expected
 * panic, and the same panic failing a scenario that did not expect it, naming the task.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stackAt } from '../../emulator/stack.ts';
import { REPO, hilt, latestResults as results, tempDir, writeScenario } from '../helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');
const LOW_STACK = join(REPO, 'scenarios', '17-low-stack.spec.ts');
const PANIC_LINE = '***ERROR*** A stack overflow in task hilt_connect has been detected.';

describe('hilt run: the connect task\'s stack', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-stack-'));
  });
  afterEach(() => remove());

  it('records stack_peak_used (B, model) and judges its budget; results.json, junit.xml and report.html show it', async function () {
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ budgets: { stack_peak_used: '<= 6 KiB' } }));
    const ok = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 30_000 });
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    const metric = (await results(dir)).scenarios[0]!.metrics.find((m) => m.name === 'stack_peak_used')!;
    expect(metric).to.include({ unit: 'B', source: 'model' });
    expect(metric.median).to.equal(stackAt('mqtt'));
    expect(metric.budget).to.include({ expression: 'stack_peak_used <= 6 KiB', exceeded: false });
    const junit = await readFile(join(dir, 'reports', 'latest', 'junit.xml'), 'utf8');
    expect(junit).to.match(/<property name="stack_peak_used\.median" value="\d+"\/>/);
    expect(await readFile(join(dir, 'reports', 'latest', 'report.html'), 'utf8')).to.include('stack_peak_used');
    expect(await readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8')).to.match(/\| Stack peak \(KiB\) \|[\s\S]*\| 3\.3\[\^model\] \|/);

    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ budgets: { stack_peak_used: '<= 3 KiB' } }));
    const over = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 30_000 });
    expect(over.code, over.stdout + over.stderr).to.equal(1);
    const failed = (await results(dir)).scenarios[0]!;
    expect(failed.failure).to.include({ kind: 'budget' });
    expect(failed.failure!.message).to.match(/^budget exceeded: stack_peak_used median \d+ B breaks stack_peak_used <= 3 KiB$/);
    expect(await readFile(join(dir, 'reports', 'latest', 'summary.md'), 'utf8')).to.include('stack_peak_used <= 3 KiB');
  });

  it('a stack budget in the wrong unit is bad configuration: exit 2, one line', async function () {
    await writeFile(join(dir, 'hilt.config.json'), JSON.stringify({ budgets: { stack_peak_used: '<= 6 ms' } }));
    const { code, stderr } = await hilt(['run', HAPPY], { cwd: dir, timeoutMs: 30_000 });
    expect(code).to.equal(2);
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.match(/budgets\.stack_peak_used.*ms does not measure stack_peak_used \(a size\)/);
  });

  it('17 low stack passes on the emulator: the expected panic, named, and the board back', async function () {
    const { code, stdout, stderr } = await hilt(['run', LOW_STACK], { cwd: dir, timeoutMs: 45_000 });
    expect(code, stdout + stderr).to.equal(0);
    const [scenario] = (await results(dir)).scenarios;
    expect(scenario).to.include({ outcome: 'passed', failure: null });
    expect(scenario!.notes).to.include('the device panicked as expected: stack overflow in task hilt_connect');
    const log = await readFile(join(dir, 'reports', 'latest', scenario!.consoleLog!), 'utf8');
    expect(log).to.include(PANIC_LINE);
    expect(log).to.match(/@hil \* boot \{"proto":1,"reason":"SW_CPU_RESET"\}/);
  });

  it('the same overflow where no panic was expected fails the scenario as a panic naming the task, without waiting out the command', async function () {
    const file = await writeScenario(dir, 'overflow.spec.ts', `
describe('a connect on too small a stack', () => {
  scenario('connects with stack=2048', async (ctx) => {
    const result = await ctx.connect('good', { args: { stack: 2048 } });
    expect(result.connected).to.equal(true);
  });
});`);
    const started = performance.now();
    const { code, stdout, stderr } = await hilt(['run', file], { cwd: dir, timeoutMs: 45_000 });
    expect(code, stdout + stderr).to.equal(1);
    const [scenario] = (await results(dir)).scenarios;
    expect(scenario!.failure).to.deep.include({
      kind: 'panic', message: `device stack overflow: stack overflow in task hilt_connect ("${PANIC_LINE}")`,
    });
    // Failed on the panic line, not on the command timeout (15 s).
    expect(performance.now() - started).to.be.lessThan(15_000);
  });

  it('expectPanic on a connect that does not panic fails the scenario as an assertion', async function () {
    const file = await writeScenario(dir, 'no-panic.spec.ts', `
describe('a connect with room enough', () => {
  scenario('expects an overflow that does not come', async (ctx) => {
    await ctx.expectPanic('stack_overflow', () => ctx.connect('good', { args: { stack: 8192 } }));
  });
});`);
    const { code, stdout, stderr } = await hilt(['run', file], { cwd: dir, timeoutMs: 45_000 });
    expect(code, stdout + stderr).to.equal(1);
    const [scenario] = (await results(dir)).scenarios;
    expect(scenario!.failure).to.deep.include({
      kind: 'assertion', message: 'expected the device to panic (stack overflow), but it answered: connected',
    });
  });
});
