/** `hilt run`: the scenario catalogue against a device, with reports for the release. */
import type { Command } from 'commander';
import { ExitCode, UsageError, printable, quoted } from '../errors.ts';
import { loadConfig, type RunConfig } from '../run/config.ts';
import { Interrupts } from '../run/interrupts.ts';
import { runScenarios } from '../run/runner.ts';
import { boardBrief, runAsBoard, runBoards } from '../run/boards.ts';
import { pruneReports } from '../run/retention.ts';
import { loadResults } from '../compare/load.ts';
import { scenarioFiles } from '../run/scenario-files.ts';
import { parseShard } from '../run/shard.ts';
import { KINDS, resolveTarget } from '../device/targets/index.ts';
import type { ImageIdentity } from '../report/model.ts';
import { flashWithReport, readBuild } from './flash.ts';
import { shown, wholeNumber } from './args.ts';

interface RunCliOptions {
  target?: string[];
  eachTarget?: boolean;
  grep?: string;
  repeat?: string;
  reportDir?: string;
  certs?: string;
  bail: boolean;
  config?: string;
  flash?: string;
  baseline?: string;
  keep?: string;
  shard?: string;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run scenarios (default: hilt\'s catalogue for the target\'s mode, or the scenarios setting of hilt.config.json) against a device and write reports')
    .argument('[files...]', 'scenario files, folders or globs (default: the config\'s scenarios, else hilt\'s catalogue)')
    .option('--target <target>', `where the device is: ${KINDS.map((k) => k.summary.split(' ')[0]).join(' | ')} (default: emulator); ` +
      'again for each further board: the scenarios are split across the boards', (value: string, previous: string[] = []) => [...previous, value])
    .option('--each-target', 'with several targets: run every scenario on each board instead of splitting them')
    .option('--grep <regexp>', 'only scenarios whose title matches')
    .option('--repeat <n>', 'run each scenario n times and keep the distribution of its metrics')
    .option('--report-dir <dir>', 'where reports go (default: reports)')
    .option('--certs <dir>', 'lab PKI directory (default: certs)')
    .option('--config <file>', 'configuration file (default: hilt.config.json if present)')
    .option('--bail', 'stop at the first failing scenario', false)
    .option('--baseline <path>', 'compare with this run (a results.json or a report folder): relative budgets, changes beyond noise; exit 1 on a regression')
    .option('--keep <n>', 'keep the newest n run folders in the reports dir, removing older ones (default: the config\'s reports.keep, else all)')
    .option('--shard <i/n>', 'run only part i of n of the scenarios (a split by scenario id, the same on every machine); join the parts with hilt merge')
    .option('--flash <dir>', 'flash this ESP-IDF build onto the target first (skipped when the board runs it already); its identity goes into the reports')
    .action(async (files: string[], opts: RunCliOptions) => {
      // Caught before anything else, so an interrupt at any moment of the run ends with a report.
      const interrupts = new Interrupts();
      try {
        // One board of a multi-board run, started by its parent `hilt run` (harness/run/boards.ts).
        const brief = boardBrief();
        if (brief) process.exitCode = await runAsBoard(brief, interrupts);
        else await runCommand(files, opts, interrupts);
      } finally {
        interrupts.dispose();
      }
    });
}

async function runCommand(files: string[], opts: RunCliOptions, interrupts: Interrupts): Promise<void> {
  const config: RunConfig = await loadConfig(opts.config ?? 'hilt.config.json', opts.config !== undefined);
  // --target, once or once per board, replaces hilt.config.json's target or targets
  if (opts.target) {
    config.target = opts.target[0]!;
    config.targets = opts.target;
    config.sources.target = '--target';
    config.sources.targets = '--target';
  }
  if (opts.eachTarget) config.eachTarget = true;
  const targets = config.targets;
  if (opts.reportDir) config.reportDir = opts.reportDir;
  if (opts.certs) config.certsDir = opts.certs;
  if (opts.repeat !== undefined) config.repeat = wholeNumber('--repeat', opts.repeat, 1, 1000);
  if (opts.keep !== undefined) config.reportsKeep = wholeNumber('--keep', opts.keep, 1, 100_000);
  if (opts.baseline !== undefined) config.baseline = opts.baseline;
  // Read before anything starts (a bad path is exit 2 with the board untouched), and before
  // `latest` moves to this run: --baseline reports/latest means the run before this one.
  const baseline = config.baseline === null ? null : await loadResults(config.baseline);
  const shard = opts.shard === undefined ? null : parseShard(opts.shard);
  if (opts.grep) {
    try {
      new RegExp(opts.grep);
    } catch (err) {
      throw new UsageError(`--grep ${quoted(opts.grep)}: not a regular expression (${printable((err as Error).message)})`);
    }
  }
  const sources = [{ paths: files, from: 'the command line' }, { paths: config.scenarios ?? [], from: `${printable(opts.config ?? 'hilt.config.json')}, field scenarios` }];
  // Found before any flashing: a scenario path that does not exist is exit 2 with the board untouched.
  const scenarioList = scenarioFiles(sources);
  let image: ImageIdentity | null = null;
  if (opts.flash !== undefined && targets.length > 1) throw new UsageError('--flash takes one target: flash each board with hilt flash --target ..., then run them together');
  if (opts.flash !== undefined) {
    // Read before anything starts: a bad build is exit 2 with the board untouched.
    const build = readBuild(opts.flash);
    image = await flashWithReport(build, resolveTarget(config.target, { bench: config.bench }), { interrupts });
    if (!image) {
      console.error('hilt: interrupted while flashing: no scenario ran; the board may hold a partly written image');
      process.exitCode = ExitCode.interrupted;
      return;
    }
  }
  const options = { files: scenarioList, filesChosen: files.length > 0, config, grep: opts.grep, bail: opts.bail, interrupts, image, baseline, shard };
  const outcome = targets.length > 1
    ? await runBoards({ ...options, targets, each: config.eachTarget, entry: process.argv[1]! })
    : await runScenarios(options);
  const { totals, run } = outcome.results;
  const where = shown(outcome.runDir) || outcome.runDir;
  console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.error} errors, ${totals.skipped} skipped` +
    `${run.cutShort ? ` (cut short: ${run.cutShort})` : ''}`);
  if (run.infrastructureError) console.error(`hilt: ${run.infrastructureError}`);
  // (a lab key whose mode had drifted: set back, but whoever runs the bench should know)
  for (const warning of run.warnings) console.error(`hilt: warning: ${warning}`);
  console.log(`report: ${where}/report.html, summary.md, results.json, junit.xml`);
  const comparison = outcome.results.comparison;
  if (comparison) console.log(`compared with run ${comparison.baseline.runId}: ${comparison.regressions === 0 ? 'no regressions' : `${comparison.regressions} regression${comparison.regressions === 1 ? '' : 's'}`} (hilt compare ${shown(baseline?.folder ?? '') || config.baseline} ${where} for the details)`);
  if (config.reportsKeep !== null) {
    const pruned = await pruneReports(config.reportDir, config.reportsKeep, [outcome.runDir, ...(baseline?.folder ? [baseline.folder] : [])]);
    for (const failed of pruned.failed) console.error(`hilt: warning: old report not removed: ${failed}`);
  }
  if (interrupts.signal && !run.cutShort) console.error(`hilt: interrupted (${interrupts.signal}) once the scenarios had run: the report is complete`);
  process.exitCode = outcome.exitCode;
}
