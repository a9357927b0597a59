/**
 * What `hilt init` writes into a firmware repository. Plain text kept here rather than as files
 * beside the package, so it ships with the code that writes it. docs/ci.md shows the workflow
 * (test/cli/init.spec.ts checks that the two agree).
 */

/** The folder hilt runs in: its config, scenarios, and (ignored by git) certs/ and reports/. */
export const HIL_DIR = 'hil';

export const CONFIG_SCHEMA_FILE = 'hilt.config.schema.json';

/** hil/hilt.config.json: the emulator, so the first run needs no board; the schema for editors. */
export function configFile(): string {
  const config = {
    $schema: `./${CONFIG_SCHEMA_FILE}`,
    target: 'emulator',
    scenarios: ['scenarios/'],
    budgets: { tls_ms: '<= 2000', heap_peak_used: '<= 48 KiB' },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * How a team's scenario imports hilt, by its package name. Spliced into the template, not written
 * out in it: hilt's own sources import nothing but their dependencies, and hilt is not one of its own.
 */
const IMPORT_HILT = "import { expect, scenario } from 'hilt';";

/** hil/scenarios/01-example.spec.ts: one connection that must work, one that must be refused. */
export const EXAMPLE_SCENARIO = `// An example scenario written by \`npx hilt init\`: run it with \`npx hilt run\` in hil/.
// What ctx and expect offer: node_modules/hilt/docs/scenarios.md.
${IMPORT_HILT}

describe('01 example', () => {
  scenario('connects to the lab broker with mutual TLS', async (ctx) => {
    const result = await ctx.connect('good');
    expect(result).to.be.connected();
    await ctx.disconnect(result);
    // The broker's side of the same connection: the client id is the certificate's CN.
    expect((await ctx.attempt('good')).mqtt).to.include({ clientId: ctx.deviceId, connack: 0 });
  });

  scenario('refuses a broker whose chain leads to a root it does not trust', async (ctx) => {
    const result = await ctx.connect('rogue');
    expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('NOT_TRUSTED');
    await ctx.checkHeapReturned(result);
  });
});
`;

/** Lines for the repository's .gitignore: the lab's keys and the reports are made by each run. */
export const GITIGNORE_LINES = [`/${HIL_DIR}/certs/`, `/${HIL_DIR}/reports/`];

export const WORKFLOW_FILE = '.github/workflows/hil.yml';

/** GitHub Actions: the scenarios on two machines (emulated boards), then one merged report. */
export const WORKFLOW = `# hilt's scenarios on emulated ESP32 boards, split over two machines, then one merged
# report (uploaded as the artifact hil-report). Written by \`npx hilt init\`; see
# node_modules/hilt/docs/ci.md for more shards, real boards and GitLab.
name: hil

on:
  push:
  pull_request:

jobs:
  scenarios:
    name: scenarios (shard \${{ matrix.shard }} of 2)
    runs-on: ubuntu-latest
    timeout-minutes: 30
    strategy:
      # Every shard runs to the end: the merged report needs all of them.
      fail-fast: false
      matrix:
        shard: [1, 2]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm
      - run: npm ci
      - name: hilt run
        working-directory: ${HIL_DIR}
        run: npx hilt run --shard \${{ matrix.shard }}/2
      - uses: actions/upload-artifact@v4
        if: \${{ !cancelled() }}
        with:
          name: hil-shard-\${{ matrix.shard }}
          path: ${HIL_DIR}/reports/
          if-no-files-found: error

  report:
    needs: scenarios
    # Also when a shard failed: that is when the report matters most.
    if: \${{ !cancelled() }}
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm
      - run: npm ci
      - uses: actions/download-artifact@v4
        with:
          pattern: hil-shard-*
          path: shards
      - name: hilt merge
        run: npx hilt merge shards/* --out hil-report/merged
      - uses: actions/upload-artifact@v4
        if: \${{ !cancelled() }}
        with:
          name: hil-report
          path: hil-report/merged/
`;
