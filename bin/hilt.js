#!/usr/bin/env node
// The published entry point: hilt is written in TypeScript and runs through tsx's loader,
// so there is no build step between a checkout and `npx hilt`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli/main.ts');
process.exitCode = await main(process.argv);
