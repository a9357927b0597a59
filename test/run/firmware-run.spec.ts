/**
 * `hilt run` in firmware mode, end to end as a user runs it: what runs by default, and runs whose
 * scenarios do not fit the target's mode.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, hilt, tempDir, writeScenario } from '../helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

/** A firmware scenario file of the test's own, importing hilt by absolute path. */
export async function writeFirmwareScenario(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `import { expect, firmwareScenario } from '${join(REPO, 'harness', 'index.ts')}';\n${body}\n`);
  return path;
}

describe('hilt run in firmware mode', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async function () {
    ({ dir, remove } = await tempDir('hilt-fw-run-'));
  });
  afterEach(() => remove());

  it('an agent scenario on a firmware target stops before anything starts: one line, exit 2', async function () {
    const { code, stderr, stdout } = await hilt(['run', '--target', 'tcp:127.0.0.1:9?mode=firmware', HAPPY], { cwd: dir });
    expect(code).to.equal(2);
    expect(stderr).to.match(/^hilt: hilt\/scenarios\/01-mtls-happy-path\.spec\.ts: ".*" is an agent scenario, and target tcp:127\.0\.0\.1:9\?mode=firmware is in firmware mode: firmware targets run firmwareScenario\(\) files \(scenarios\/firmware\/\): name those, or use an agent target\n$/);
    expect(stdout).to.equal('');
    // Stopped before the report folder, the lab or the device: nothing was made.
    expect(existsSync(join(dir, 'reports'))).to.equal(false);
  });

  it('a firmware scenario on an agent target stops the same way', async function () {
    const file = await writeFirmwareScenario(dir, 'connect.spec.ts', `
firmwareScenario('MQTT Connect', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await ctx.until('a CONNECT', (attempts) => attempts.find((a) => a.mqtt));
});`);
    const { code, stderr } = await hilt(['run', '--target', 'emulator', file], { cwd: dir });
    expect(code).to.equal(2);
    expect(stderr).to.match(/^hilt: connect\.spec\.ts: "MQTT Connect" is a firmware scenario, and target emulator is in agent mode: give a target in firmware mode \(\?mode=firmware, or emulator:\?firmware=app\), or name agent scenario files\n$/);
  });

  it('agent scenario files written with plain it() still run on agent targets', async function () {
    const file = await writeScenario(dir, 'plain.spec.ts', `it('plain mocha', () => { expect(1).to.equal(1); });`);
    const { code, stdout } = await hilt(['run', file], { cwd: dir, timeoutMs: 30_000 });
    expect(code, stdout).to.equal(0);
  });
});
