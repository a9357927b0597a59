/**
 * Targets: how to reach a device, named by URL-like strings (`emulator`, `serial:/dev/ttyUSB0`,
 * `tcp:host:port`). A target kind is one file exporting a TargetKind; index.ts lists them.
 */
import type { Transport } from '../../transport/transport.ts';

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
  parse(rest: string, query: URLSearchParams, url: string): Target;
}
