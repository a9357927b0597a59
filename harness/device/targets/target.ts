/**
 * Targets: how to reach a device, named by URL-like strings (`emulator`, `serial:/dev/ttyUSB0`,
 * `tcp:host:port`). A target kind is one file exporting a TargetKind; index.ts lists them.
 */
import type { Transport } from '../../transport/transport.ts';
import type { ResetSequence } from '../reset-sequence.ts';

/** hilt.config.json "bench": {"reset": {...}}: the bench's own sequences, for every serial-like target. */
export interface BenchSettings {
  /** The hardware reset that boots the app (esptool's hard reset unless the bridge wants another). */
  hard?: ResetSequence;
  /** Tried in turn until the ROM says download mode. */
  download?: ResetSequence[];
  /** How long the ROM's boot line may take after a sequence (default 2000 ms). */
  bootTimeoutMs?: number;
}

/** What resolving a target may use besides its string. */
export interface TargetContext {
  bench?: BenchSettings;
}

/** What a firmware build is given to reach the endpoint (the lab's EndpointMaterials, in part). */
export interface DeviceMaterials {
  uri: string;
  caBundlePem: string;
  certPem: string;
  keyPem: string;
  /** The MQTT client id, the CN of certPem. */
  clientId: string;
}

export interface Target {
  /** The string the user gave, normalised. */
  url: string;
  kind: string;
  description: string;
  /**
   * How to bring the device to a known state between scenarios: the agent's `reset` command, or
   * only `hello` (for a board whose reset the bench does not want).
   */
  reset: 'agent' | 'hello';
  /**
   * agent: the device runs hilt's test agent and takes commands. firmware: it runs its own
   * application, is never sent a byte, and is judged from the lab's records and its console.
   */
  mode: 'agent' | 'firmware';
  /**
   * Firmware mode: a hardware reset the target itself can do (the emulated app's reset, an RTS
   * pulse on a serial port). Resolves false when it cannot for this device after all (a
   * pseudo-terminal has no modem lines): the runner then takes the next way to a known state.
   */
  resetDevice?(): Promise<boolean>;
  /**
   * Firmware mode, an emulated application: where the endpoint is and the credentials to use,
   * given before transport() (a real board has them built in, from `hilt endpoint`).
   */
  provision?(materials: DeviceMaterials): void;
  /**
   * A target by identity (serial:?serial_number=X): the port it was found on when last opened,
   * for the report; it may change after a reset or a disconnect.
   */
  readonly resolvedPort?: string | undefined;
  /** A board with modem lines: its hard-reset and download-mode sequences (after transport(), the bridge's). */
  resetSequences?(): { hard: ResetSequence; download: readonly ResetSequence[] };
  /**
   * Names the device reaches the lab by that are no address of this machine (QEMU's user network
   * sees the host as 10.0.2.2): the lab's server certificates carry them, the lab does not bind them.
   */
  certificateHosts?: readonly string[];
  /** A new, unopened transport to the device. */
  transport(): Promise<Transport>;
  /** Stops what the target started (an emulated board); idempotent. */
  close(): Promise<void>;
}

export interface TargetKind {
  kind: string;
  /** One line for `hilt run --help` and error messages, with an example. */
  summary: string;
  /** `rest` is what follows "kind:" (may be empty); `query` the ?key=value options. */
  parse(rest: string, query: URLSearchParams, url: string, context?: TargetContext): Target;
}
