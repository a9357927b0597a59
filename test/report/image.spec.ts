/** The image a run flashed (hilt run --flash) is named in every report: results.json, junit.xml, summary.md. */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toJUnitXml, toSummaryMarkdown, writeReports, type ImageIdentity } from '../../harness/report/index.ts';
import { tempDir } from '../helpers.ts';
import { runResults } from './fixtures.ts';
import { parseXml, propertiesOf } from './xml.ts';

const image: ImageIdentity = {
  project: 'blink', version: 'v0.9.1', idf: 'v5.1.2', elfSha256: 'ab'.repeat(32),
  builtAt: 'Nov 30 2026 12:34:56', buildDir: '/src/blink/build', state: 'flashed', confirmedBy: 'boot log',
};

describe('reports: the flashed image\'s identity', () => {
  it('is in results.json, junit.xml\'s properties and summary.md', async () => {
    const { dir, remove } = await tempDir('hilt-report-image-');
    try {
      const results = runResults({ image });
      const paths = await writeReports(results, join(dir, results.run.id), dir);
      const json = JSON.parse(await readFile(paths.results, 'utf8'));
      expect(json.run.image).to.deep.equal(image);
      const props = propertiesOf(parseXml(await readFile(paths.junit, 'utf8')).children[0]!);
      expect(props).to.include({
        'image.project': 'blink', 'image.version': 'v0.9.1', 'image.idf': 'v5.1.2', 'image.elf_sha256': 'ab'.repeat(32),
        'image.built_at': 'Nov 30 2026 12:34:56', 'image.build_dir': '/src/blink/build', 'image.state': 'flashed', 'image.confirmed_by': 'boot log',
      });
      const md = await readFile(paths.summary, 'utf8');
      expect(md).to.include(`Image: blink v0.9.1 · ESP-IDF v5.1.2 · built Nov 30 2026 12:34:56 · ELF SHA-256 \`${'ab'.repeat(32)}\` · flashed and verified by MD5 from \`/src/blink/build\`, the board confirmed it (boot log)`);
    } finally {
      await remove();
    }
  });

  it('names the run in the heading when the board gave no identity of its own', () => {
    const md = toSummaryMarkdown(runResults({ firmware: null, image: { ...image, state: 'running', confirmedBy: 'hello' } }, []));
    expect(md.split('\n')[0]).to.match(/^# blink v0\.9\.1 on /);
    expect(md).to.include('already running, not flashed');
  });

  it('is left out when no image was flashed', () => {
    const props = propertiesOf(parseXml(toJUnitXml(runResults({ image: null }))).children[0]!);
    expect(Object.keys(props).filter((k) => k.startsWith('image.'))).to.deep.equal([]);
    expect(toSummaryMarkdown(runResults({ image: null }))).not.to.include('Image:');
  });
});
