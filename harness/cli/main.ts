/**
 * The `hilt` command line. Each command lives in its own file; this file lists them, loads only
 * the one named on the command line, and turns errors into one line on stderr and an exit status.
 */
import { Command, CommanderError, Help } from 'commander';
import { ExitCode, HiltError } from '../errors.ts';
import { refuseEmptyValues } from './args.ts';
import { VERSION } from '../version.ts';

/**
 * A command as `hilt --help` lists it, and how to load it. Loading a command's module loads
 * everything it uses (the lab, the runner, serialport ...): `hilt --help` loads none of them and
 * `hilt <command>` loads one (docs/architecture.md, "How the command line loads").
 */
export interface LazyCommand {
  name: string;
  /** What `hilt --help` shows after the name: the loaded command's options and arguments, as commander shows them. */
  usage: string;
  /** The loaded command's own description (test/cli/main.spec.ts checks that both listings agree). */
  description: string;
  /** The module's register function, which adds the full command to the program. */
  load: () => Promise<(program: Command) => void>;
}

// To add a command: one line here, in the order `hilt --help` lists them.
export const COMMANDS: readonly LazyCommand[] = [
  { name: 'run', usage: '[options] [files...]', description: 'run scenarios (default: hilt\'s catalogue for the target\'s mode, or the scenarios setting of hilt.config.json) against a device and write reports', load: async () => (await import('./run.ts')).registerRun },
  { name: 'certs', usage: '[options]', description: 'create the lab PKI (roots, issuing CA, broker and device certificates, bundles); idempotent', load: async () => (await import('./certs.ts')).registerCerts },
  { name: 'broker', usage: '[options]', description: 'run the lab broker on its own: one listener per profile, each attempt logged', load: async () => (await import('./broker.ts')).registerBroker },
  { name: 'endpoint', usage: '[options]', description: 'write what a firmware test build needs to reach hilt\'s endpoint (URI, CA bundle, device certificate and key, a C header), then keep the endpoint up until Ctrl-C', load: async () => (await import('./endpoint.ts')).registerEndpoint },
  { name: 'emulate', usage: '[options]', description: 'run emulated ESP32 boards speaking the agent protocol (stdio by default)', load: async () => (await import('./emulate.ts')).registerEmulate },
  { name: 'flash', usage: '[options]', description: 'flash an ESP-IDF build (its flasher_args.json) onto the target\'s board, verify every region by MD5 and check the board boots it', load: async () => (await import('./flash.ts')).registerFlash },
  { name: 'ports', usage: '[options]', description: 'list the serial ports: path, VID:PID, serial number, manufacturer, location, bridge and board family', load: async () => (await import('./ports.ts')).registerPorts },
  { name: 'native', usage: '', description: 'the native target: hilt\'s agent in C on the real Mbed TLS, run on this machine', load: async () => (await import('./native.ts')).registerNative },
  { name: 'compare', usage: '[options] <old> <new>', description: 'compare a run with a baseline run: outcomes, metric medians beyond noise, relative budgets; exit 1 on a regression', load: async () => (await import('./compare.ts')).registerCompare },
  { name: 'merge', usage: '[options] <reports...>', description: 'merge the reports of several runs (e.g. the --shard runs of CI machines) into one report', load: async () => (await import('./merge.ts')).registerMerge },
  { name: 'init', usage: '[options] [dir]', description: 'set up a firmware repository: hil/ with hilt.config.json, its JSON Schema and an example scenario; .gitignore entries; a CI workflow', load: async () => (await import('./init.ts')).registerInit },
];

/**
 * The command an argument list names (`hilt [options] <command> ...`, or `hilt help <command>`),
 * as commander will read it: hilt's own options (--help, --version) take no value, so the first
 * argument that is not an option, or the one after `--`, is the command.
 */
export function commandNamed(args: readonly string[]): string | undefined {
  const operands: string[] = [];
  for (const [i, arg] of args.entries()) {
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') operands.push(arg);
  }
  return operands[0] === 'help' ? operands[1] : operands[0];
}

/**
 * The program with every command listed and the named ones (or all) loaded in full. A command
 * not loaded is a stand-in that only carries its name and description, for the list and for
 * commander's "Did you mean ...?".
 */
export async function buildProgram(load: ReadonlySet<string> | 'all' = new Set()): Promise<Command> {
  const standIns = new Map<Command, LazyCommand>();
  const program = new Command('hilt')
    .description('hardware-in-the-loop tests for the TLS and MQTT connectivity of ESP32 firmware')
    .version(VERSION)
    .exitOverride()
    // Commander puts its "(Did you mean ...?)" on a line of its own: keep every error on one.
    .configureOutput({ outputError: (text, write) => write(`${text.trimEnd().replace(/\n/g, ' ')}\n`) })
    .configureHelp({
      subcommandTerm: (cmd) => {
        const lazy = standIns.get(cmd);
        return lazy ? `${lazy.name}${lazy.usage ? ` ${lazy.usage}` : ''}` : new Help().subcommandTerm(cmd);
      },
    });
  for (const entry of COMMANDS) {
    if (load === 'all' || load.has(entry.name)) (await entry.load())(program);
    else standIns.set(program.command(entry.name).description(entry.description), entry);
  }
  program.hook('preAction', (_program, action) => refuseEmptyValues(action));
  return program;
}

/** Runs the command line and resolves to the exit status; never throws. */
export async function main(argv: string[]): Promise<number> {
  try {
    const named = commandNamed(argv.slice(2));
    const program = await buildProgram(new Set(named === undefined ? [] : [named]));
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
