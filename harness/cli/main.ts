/**
 * The `hilt` command line. Each command lives in its own file and registers itself here; this
 * file only turns errors into one line on stderr and an exit status.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, HiltError } from '../errors.ts';
import { refuseEmptyValues } from './args.ts';
import { registerBroker } from './broker.ts';
import { registerCerts } from './certs.ts';
import { registerEmulate } from './emulate.ts';
import { registerEndpoint } from './endpoint.ts';
import { registerFlash } from './flash.ts';
import { registerInit } from './init.ts';
import { registerMerge } from './merge.ts';
import { registerNative } from './native.ts';
import { registerPorts } from './ports.ts';
import { registerRun } from './run.ts';
import { VERSION } from '../version.ts';

const COMMANDS = [registerRun, registerCerts, registerBroker, registerEndpoint, registerEmulate, registerFlash, registerPorts, registerNative, registerMerge, registerInit];

export function buildProgram(): Command {
  const program = new Command('hilt')
    .description('hardware-in-the-loop tests for the TLS and MQTT connectivity of ESP32 firmware')
    .version(VERSION)
    .exitOverride()
    // Commander puts its "(Did you mean ...?)" on a line of its own: keep every error on one.
    .configureOutput({ outputError: (text, write) => write(`${text.trimEnd().replace(/\n/g, ' ')}\n`) });
  for (const register of COMMANDS) register(program);
  program.hook('preAction', (_program, action) => refuseEmptyValues(action));
  return program;
}

/** Runs the command line and resolves to the exit status; never throws. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message already; help and --version are not failures.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof HiltError) {
      process.stderr.write(`hilt: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`hilt: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.failed;
  }
}
