/**
 * `hilt init [DIR] [--force]`: sets up a firmware repository for hilt. Writes hil/ (the config,
 * its JSON Schema for editors, an example scenario that runs on the emulator), the CI workflow,
 * and appends hil/certs/ and hil/reports/ to .gitignore. Files that exist are left alone unless
 * --force: nothing is written when one would be overwritten.
 */
import type { Command } from 'commander';
import { lstat, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError, errnoOf, printable } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { configJsonSchema } from '../run/config.ts';
import { shown } from './args.ts';
import { CONFIG_SCHEMA_FILE, EXAMPLE_SCENARIO, GITIGNORE_LINES, HIL_DIR, WORKFLOW, WORKFLOW_FILE, configFile } from './init-files.ts';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('set up a firmware repository: hil/ with hilt.config.json, its JSON Schema and an example scenario; .gitignore entries; a CI workflow')
    .argument('[dir]', 'the repository\'s folder', '.')
    .option('--force', 'overwrite files hilt init wrote before (or any file of the same name)', false)
    .action(async (dir: string, opts: { force: boolean }) => {
      await init(dir, opts.force);
    });
}

/** The JSON Schema of hilt.config.json, generated from the schema the config is checked with (harness/run/config.ts). */
function configSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

async function init(dir: string, force: boolean): Promise<void> {
  const root = resolve(dir);
  const found = await stat(root).catch((err: unknown) => {
    throw new UsageError(`${printable(dir)}: ${errnoOf(err) === 'ENOENT' ? 'does not exist' : `cannot be read (${errnoOf(err)})`}: give your firmware repository's folder`);
  });
  if (!found.isDirectory()) throw new UsageError(`${printable(dir)} is not a folder: give your firmware repository's folder`);

  const files: Array<[string, string]> = [
    [join(HIL_DIR, 'hilt.config.json'), configFile()],
    [join(HIL_DIR, CONFIG_SCHEMA_FILE), configSchema()],
    [join(HIL_DIR, 'scenarios', '01-example.spec.ts'), EXAMPLE_SCENARIO],
    [WORKFLOW_FILE, WORKFLOW],
  ];
  // All checked before any is written: a refusal leaves the repository as it was.
  if (!force) {
    for (const [name] of files) {
      if (await lstat(join(root, name)).then(() => true, () => false)) {
        throw new UsageError(`${printable(shown(join(root, name)))} exists: hilt init leaves it alone; move it away, or pass --force to overwrite it (and the other files hilt init writes)`);
      }
    }
  }
  // (.gitignore read first too: one that cannot be read stops init before anything is written)
  const gitignore = await gitignoreAppend(join(root, '.gitignore'));
  for (const [name, text] of files) await write(join(root, name), text);
  if (gitignore.text !== null) await write(join(root, '.gitignore'), gitignore.text);
  const ignored = gitignore.added;

  for (const [name] of files) console.log(`wrote ${shown(join(root, name))}`);
  console.log(ignored.length > 0 ? `added ${ignored.join(' ')} to ${shown(join(root, '.gitignore'))}` : `${shown(join(root, '.gitignore'))} ignores hil/certs/ and hil/reports/ already`);
  console.log(`next: npm install --save-dev hilt (if it is not yet), then cd ${shown(join(root, HIL_DIR))} && npx hilt run`);
}

async function write(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text);
  } catch (err) {
    throw new UsageError(`cannot write ${printable(shown(path))} (${errnoOf(err)}): check that the folder can be written`);
  }
}

/**
 * .gitignore with the lines it lacks appended (text null: it lacks none). A line there already
 * counts with or without its slashes, and so does a bare name (`certs/`), which git applies at
 * any depth.
 */
async function gitignoreAppend(path: string): Promise<{ text: string | null; added: string[] }> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    if (errnoOf(err) === 'ENOENT') return '';
    throw new UsageError(`cannot read ${printable(shown(path))} (${errnoOf(err)}): it must be a file hilt init can read and append to; nothing was written`);
  });
  const bare = (line: string) => line.trim().replace(/^\/|\/$/g, '');
  const existing = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const covers = (line: string, wanted: string) => bare(line) === bare(wanted)
    || (!line.startsWith('/') && !bare(line).includes('/') && bare(wanted).split('/').pop() === bare(line));
  const missing = GITIGNORE_LINES.filter((wanted) => !existing.some((line) => covers(line, wanted)));
  if (missing.length === 0) return { text: null, added: [] };
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  return { text: `${text}${separator}# hilt: the lab's keys and the run reports are made by each run\n${missing.join('\n')}\n`, added: missing };
}
