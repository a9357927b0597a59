/**
 * `hilt compare OLD NEW [--json]`: a run against a baseline run (each a results.json or a report
 * folder): outcomes that changed, metric medians beyond their noise, the config's relative
 * budgets. Exit 1 on a regression, 0 without one, 2 for bad input.
 */
import type { Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { compareRuns } from '../compare/compare.ts';
import { loadResults } from '../compare/load.ts';
import { comparisonText } from '../compare/text.ts';
import { loadConfig } from '../run/config.ts';

interface CompareCliOptions {
  json: boolean;
  config?: string;
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('compare a run with a baseline run: outcomes, metric medians beyond noise, relative budgets; exit 1 on a regression')
    .argument('<old>', 'the baseline: a results.json or a report folder (reports/<run-id>)')
    .argument('<new>', 'the run to judge: a results.json or a report folder (reports/latest)')
    .option('--json', 'print the comparison as JSON (the `comparison` of results.json)', false)
    .option('--config <file>', 'configuration file whose relative budgets apply (default: hilt.config.json if present)')
    .action(async (oldPath: string, newPath: string, opts: CompareCliOptions) => {
      // Everything is read before anything is printed: bad input is one line and exit 2, nothing else.
      const config = await loadConfig(opts.config ?? 'hilt.config.json', opts.config !== undefined);
      const baseline = await loadResults(oldPath);
      const current = await loadResults(newPath);
      const comparison = compareRuns(baseline.results, current.results, { path: oldPath, budgets: config.budgets });
      process.stdout.write(opts.json ? `${JSON.stringify(comparison, null, 2)}\n` : comparisonText(comparison, { runId: current.results.run.id, path: newPath }));
      process.exitCode = comparison.regressions > 0 ? ExitCode.failed : ExitCode.ok;
    });
}
