/**
 * The native tests' one precondition: a machine that can build Mbed TLS and the host agent. One
 * without the toolchain skips them, saying what to install; anything else that fails is a failure.
 */
import { buildAgent, buildMbedtls, checkToolchain, NativeBuildError } from '../../harness/native/build.ts';

/** Skips the calling hook or test (with the reason printed) when the toolchain is missing. */
export async function needToolchain(ctx: Mocha.Context): Promise<void> {
  try {
    await checkToolchain();
  } catch (err) {
    if (!(err instanceof NativeBuildError)) throw err;
    console.log(`    (skipped: ${err.message})`);
    ctx.skip();
  }
}

/** The host agent's binary, built or found in the cache; skips as needToolchain does, or when there is no agent target. */
export async function needAgent(ctx: Mocha.Context): Promise<string> {
  await needToolchain(ctx);
  const agent = await buildAgent(await buildMbedtls());
  if (!agent) {
    console.log('    (skipped: firmware/Makefile has no agent target)');
    ctx.skip();
  }
  return agent!.binary;
}
