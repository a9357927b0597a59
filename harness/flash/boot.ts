/**
 * What a board says about the image it runs: the ELF SHA-256 line an ESP-IDF app prints at boot
 * (harness/wire/boot-line.ts reads it), watched on the console from before a reset on.
 */
import { MAX_CONSOLE_LINE } from '../device/device.ts';
import { LineSplitter, type Line } from '../protocol/index.ts';
import { within } from '../time.ts';
import type { Transport } from '../transport/transport.ts';
import { parseElfShaLine } from '../wire/boot-line.ts';

export interface BootWatch {
  /** The ELF SHA-256 (as printed: a prefix) once a boot line said it, within `timeoutMs`; else null. */
  elfSha256(timeoutMs: number): Promise<string | null>;
  /** The last console lines (up to 20), for messages. */
  lastLines(): string[];
  stop(): void;
}

/** Starts reading console lines from `transport` (open or about to be); call before the reset. */
export function watchBoot(transport: Transport): BootWatch {
  let sha: string | null = null;
  const recent: string[] = [];
  const splitter = new LineSplitter({ maxLineBytes: MAX_CONSOLE_LINE });
  let notify = () => {};
  splitter.on('data', (line: Line) => {
    recent.push(line.text);
    if (recent.length > 20) recent.shift();
    const printed = parseElfShaLine(line.text);
    if (printed) {
      sha = printed;
      notify();
    }
  });
  const onData = (chunk: Buffer) => splitter.write(chunk);
  transport.on('data', onData);
  return {
    async elfSha256(timeoutMs) {
      if (sha) return sha;
      const seen = new Promise<string>((resolve) => {
        notify = () => { if (sha) resolve(sha); };
      });
      const outcome = await within(timeoutMs, seen);
      notify = () => {};
      return outcome === 'timeout' ? null : outcome;
    },
    lastLines: () => [...recent],
    stop() {
      transport.off('data', onData);
      splitter.destroy();
    },
  };
}
