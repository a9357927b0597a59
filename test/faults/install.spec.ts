/**
 * Scenario files a firmware team gets wrong: each is refused before the lab or the device starts,
 * with one line naming the file (and the line and column where there is one) and exit 2.
 */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hilt, tempDir } from '../helpers.ts';

describe('faults: scenario files', function () {
  this.timeout(30_000);
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => {
    ({ dir, remove } = await tempDir('hilt-faults-install-'));
    const files: Record<string, string> = {
      // A project without hilt installed (no node_modules/hilt above it), ESM and CommonJS.
      'esm/package.json': '{"type": "module"}',
      'esm/needs-hilt.spec.ts': "import { scenario } from 'hilt';\ndescribe('x', () => { scenario('y', async () => {}); });\n",
      'cjs/needs-hilt.spec.cjs': "const { scenario } = require('hilt');\ndescribe('x', () => { scenario('y', async () => {}); });\n",
      // The mistake is in a helper the scenario imports: the helper is named.
      'helper.ts': 'export const port = (;\n',
      'uses-helper.spec.ts': "import { port } from './helper.ts';\ndescribe('x', () => { it('y', () => { console.log(port); }); });\n",
      'fine.spec.ts': "describe('fine', () => { it('loads', () => {}); });\n",
      'throws.spec.ts': "throw new Error('fixture file missing: lab.json');\n",
      'empty/notes.md': 'no scenarios here\n',
      'no-scenarios.spec.ts': "export const nothing = 1;\n",
    };
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
  });
  after(() => remove());

  const cases: Array<[string, string[], RegExp]> = [
    ['a file that imports hilt where it is not installed (ESM)', ['esm/needs-hilt.spec.ts'],
      /^hilt: scenario file esm\/needs-hilt\.spec\.ts does not load: it imports 'hilt', which is not installed where the file is: npm install --save-dev hilt in its project$/],
    ['a file that requires hilt where it is not installed (CommonJS)', ['cjs/needs-hilt.spec.cjs'],
      /^hilt: scenario file cjs\/needs-hilt\.spec\.cjs does not load: it imports 'hilt', which is not installed where the file is: /],
    ['a file that imports a helper with a syntax error', ['uses-helper.spec.ts'],
      /^hilt: scenario file uses-helper\.spec\.ts does not load: helper\.ts:1:22: Unexpected ";"$/],
    ['the second of two files, whose helper has a syntax error', ['fine.spec.ts', 'uses-helper.spec.ts'],
      /^hilt: scenario file uses-helper\.spec\.ts does not load: helper\.ts:1:22: Unexpected ";"$/],
    ['a file that throws while it loads', ['throws.spec.ts'], /^hilt: scenario file throws\.spec\.ts does not load: fixture file missing: lab\.json$/],
    ['a file that defines no scenario', ['no-scenarios.spec.ts'], /^hilt: no scenarios in no-scenarios\.spec\.ts: write them with scenario\(\)$/],
    ['a folder without scenario files', ['empty'], /^hilt: no scenario files in empty \(from the command line\): scenario files end in \.spec\.ts /],
    ['a glob that matches only other files', ['empty/*'], /^hilt: no scenario files match empty\/\* \(from the command line\): /],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2, one line`, async function () {
      const { code, stdout, stderr } = await hilt(['run', ...args], { cwd: dir });
      expect(code, stdout + stderr).to.equal(2);
      expect(stderr.trim().split('\n'), stderr).to.have.length(1);
      expect(stderr.trim()).to.match(message);
      expect(stdout).to.not.match(/passing|failing/); // nothing ran
    });
  }
});
