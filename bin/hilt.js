#!/usr/bin/env node
// The published entry point. The package ships hilt compiled to JavaScript in dist/ (built when
// it is packed): that runs without tsx, which is loaded only when a command loads scenario files
// (harness/run/typescript.ts). A checkout has no dist/ and runs from source through tsx's loaders,
// so there is no build step between editing a file and running it (docs/architecture.md, "How
// the command line loads").
import { existsSync } from 'node:fs';

// First, before anything loads: an interrupt while hilt loads, or in a command with no handling
// of its own, says plainly that there is nothing to report instead of a silent death by signal.
// The guard stands aside for good once a command listens itself (`hilt run` does so first
// thing); it is removed a tick later, because Node stops catching a signal the moment its last
// listener goes, and the command's listener would then never be called.
const guard = (signal) => {
  process.stderr.write(`hilt: interrupted (${signal}): stopped with nothing to report\n`);
  process.exit(130);
};
const standAside = (event) => {
  if (event !== 'SIGINT' && event !== 'SIGTERM') return;
  process.off('newListener', standAside);
  process.nextTick(() => {
    process.off('SIGINT', guard);
    process.off('SIGTERM', guard);
  });
};
process.on('SIGINT', guard);
process.on('SIGTERM', guard);
process.on('newListener', standAside);

const compiled = new URL('../dist/harness/cli/main.js', import.meta.url);
let main;
if (existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  // Both loaders: scenario files in a firmware team's own repository may be CommonJS (no "type":
  // "module" there).
  const { register: registerEsm } = await import('tsx/esm/api');
  const { register: registerCjs } = await import('tsx/cjs/api');
  registerEsm();
  registerCjs();
  ({ main } = await import('../harness/cli/main.ts'));
}
// Exit when the command is done, even if a scenario left a timer or socket behind.
process.exit(await main(process.argv));
