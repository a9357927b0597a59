/**
 * `hilt native build`: builds the native target's C parts into the cache folder (Mbed TLS 3.6 as
 * ESP-IDF v5.5 configures it, 32-bit; then the host agent once firmware/ has it) and says where
 * they are. `--target native` builds them on first use too; this does it up front (CI, a bench).
 */
import type { Command } from 'commander';
import { buildAgent, buildMbedtls, probeMbedtls } from '../native/build.ts';
import { shown } from './args.ts';

export function registerNative(program: Command): void {
  const native = program.command('native').description('the native target: hilt\'s agent in C on the real Mbed TLS, run on this machine');
  native
    .command('build')
    .description('build Mbed TLS (pinned, checksum verified, ESP-IDF v5.5 config, 32-bit) and the host agent into the cache folder')
    .option('--cache <dir>', 'cache folder (default: $HILT_NATIVE_CACHE, else ~/.cache/hilt/native)')
    .option('--json', 'print one JSON object: folders, keys, and what the library reports about itself', false)
    .action(async (opts: { cache?: string; json: boolean }) => {
      const controller = new AbortController();
      const stop = () => controller.abort('interrupted');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const log = opts.json ? undefined : (line: string) => console.log(line);
        const started = Date.now();
        const mbedtls = await buildMbedtls({ cacheDir: opts.cache, log, signal: controller.signal });
        const facts = await probeMbedtls(mbedtls);
        const agent = await buildAgent(mbedtls, { log, signal: controller.signal });
        if (opts.json) {
          console.log(JSON.stringify({ mbedtls: { ...mbedtls, facts }, agent }, null, 2));
          return;
        }
        const how = mbedtls.cached ? 'cached' : `built in ${((Date.now() - started) / 1000).toFixed(1)} s`;
        console.log(`Mbed TLS ${facts.version} (${facts.pointerBits}-bit, ESP-IDF v5.5 config, ${facts.ciphersuites.length} suites): ${how}: ${shown(mbedtls.dir)}`);
        console.log(agent
          ? `host agent: ${agent.cached ? 'cached' : 'built'}: ${shown(agent.binary)}`
          : 'host agent: not built: firmware/Makefile has no agent target yet');
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
