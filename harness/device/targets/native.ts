/**
 * `native[:?heap=BYTES&largest=BYTES&log_level=0..5]`: hilt's agent in C (firmware/host) on the real
 * Mbed TLS 3.6, built as ESP-IDF v5.5 builds it, running here as a child process whose
 * stdin/stdout are its UART. The build happens on first use, into the cache (harness/native),
 * and takes seconds once; later runs find it there.
 *
 * Between scenarios the device gets the agent's `reset` command, as a board does: the agent
 * restarts in place (esp_restart on a board, SW_CPU_RESET), with its heap and clock back to
 * boot. The process itself lives as long as the transport.
 */
import { ExitCode, UsageError } from '../../errors.ts';
import { TransportError } from '../../transport/transport.ts';
import { buildAgent, buildMbedtls, NativeBuildError, type AgentBuild } from '../../native/build.ts';
import { ProcessTransport } from '../../transport/process.ts';
import type { Target, TargetKind } from './target.ts';
import { intOption, targetOptions } from './options.ts';

/** The agent's own bounds for --heap and --largest (firmware/host/main.c, parse_size). */
const MAX_HEAP = 64 * 1024 * 1024;
/** The emulator's lower bound, so a heap= value means the same on both targets. */
const MIN_HEAP = 16_384;

/** Builds (or finds) the agent; a build failure becomes the error kind the runner reports by exit code. */
async function agentBinary(url: string, log: (line: string) => void): Promise<AgentBuild> {
  // A first build takes a while: Ctrl-C stops it (its make and compilers killed) rather than
  // waiting for it. The runner hears the signal too and ends the run with exit 130.
  const controller = new AbortController();
  const stop = () => controller.abort('interrupted');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const agent = await buildAgent(await buildMbedtls({ log, signal: controller.signal }), { log, signal: controller.signal });
    if (!agent) throw new UsageError(`target ${url}: firmware/Makefile has no agent target: this copy of hilt cannot build the host agent`);
    return agent;
  } catch (err) {
    if (!(err instanceof NativeBuildError)) throw err;
    // Exit 3 (the source could not be fetched) is the lab-or-device-unreachable kind; the rest is what the user installs.
    if (err.exitCode === ExitCode.unreachable) throw new TransportError(`target ${url}: ${err.message}`, { cause: err });
    if (err.exitCode === ExitCode.usage) throw new UsageError(`target ${url}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export const nativeTarget: TargetKind = {
  kind: 'native',
  summary: 'native[:?heap=BYTES&largest=BYTES&log_level=0..5]  hilt\'s agent in C on the real Mbed TLS 3.6, on this machine (built on first use)',
  parse(rest, query, url) {
    if (rest !== '') throw new UsageError(`target ${url}: write options as native:?heap=BYTES`);
    const o = targetOptions(url, query, ['heap', 'largest', 'log_level']);
    const args: string[] = [];
    if (o.has('heap')) args.push('--heap', String(intOption(url, 'heap', o.get('heap'), 0, MIN_HEAP, MAX_HEAP)));
    if (o.has('largest')) args.push('--largest', String(intOption(url, 'largest', o.get('largest'), 0, 1, MAX_HEAP)));
    if (o.has('log_level')) args.push('--log-level', String(intOption(url, 'log_level', o.get('log_level'), 3, 0, 5)));
    let built: Promise<AgentBuild> | null = null;
    return {
      url, kind: 'native', reset: 'agent', mode: 'agent',
      description: `hilt's agent on Mbed TLS (native${args.length ? ` ${args.join(' ')}` : ''})`,
      async transport() {
        // One build per target; a failed one is tried again by the next call.
        // Progress goes to stdout with the run's other output: stderr stays for the one line of a failure.
        built ??= agentBinary(url, (line) => process.stdout.write(`hilt: ${line}\n`)).catch((err: unknown) => {
          built = null;
          throw err;
        });
        const agent = await built;
        return new ProcessTransport({ command: agent.binary, args });
      },
      // The process belongs to the transport, which the device closes.
      async close() {},
    } satisfies Target;
  },
};
