#!/usr/bin/env node
// The published entry point: hilt is written in TypeScript and runs through tsx's loaders, so
// there is no build step between a checkout and `npx hilt`. Both loaders: scenario files in a
// firmware team's own repository may be CommonJS (no "type": "module" there).
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

registerEsm();
registerCjs();
// Ctrl-C while hilt loads says "nothing to report" instead of dying silently.
const { guardStartup } = await import('../harness/cli/signals.ts');
guardStartup();
const { main } = await import('../harness/cli/main.ts');
// Exit when the command is done, even if a scenario left a timer or socket behind.
process.exit(await main(process.argv));
