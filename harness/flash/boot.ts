/**
 * What a board says about the image it runs: the ELF SHA-256 line ESP-IDF prints at boot, read
 * from the console with the same line reading firmware mode uses (device/firmware.ts).
 */
import { readIdentity, type BootIdentity } from '../device/firmware.ts';
import { MAX_CONSOLE_LINE } from '../device/device.ts';
import { LineSplitter, type Line } from '../protocol/index.ts';
import { within } from '../time.ts';
import type { Transport } from '../transport/transport.ts';

export interface BootWatch {
  /** The ELF SHA-256 (as printed: a prefix) once a boot line said it, within `timeoutMs`; else null. */
  elfSha256(timeoutMs: number): Promise<string | null>;
  /** Everything the boot lines said so far. */
  identity(): BootIdentity;
  /** The last console lines (up to 20), for messages. */
  lastLines(): string[];
  stop(): void;
}

/** Starts reading console lines from `transport` (open or about to be); call before the reset. */
export function watchBoot(transport: Transport): BootWatch {
  const found: BootIdentity = { project: null, version: null, idf: null, elfSha256: null, chip: null, mac: null };
  const recent: string[] = [];
  const splitter = new LineSplitter({ maxLineBytes: MAX_CONSOLE_LINE });
  let notify = () => {};
  splitter.on('data', (line: Line) => {
    recent.push(line.text);
    if (recent.length > 20) recent.shift();
    if (readIdentity(line.text, found)) notify();
  });
  const onData = (chunk: Buffer) => splitter.write(chunk);
  transport.on('data', onData);
  return {
    async elfSha256(timeoutMs) {
      if (found.elfSha256) return found.elfSha256;
      const seen = new Promise<string>((resolve) => {
        notify = () => { if (found.elfSha256) resolve(found.elfSha256); };
      });
      const outcome = await within(timeoutMs, seen);
      notify = () => {};
      return outcome === 'timeout' ? null : outcome;
    },
    identity: () => ({ ...found }),
    lastLines: () => [...recent],
    stop() {
      transport.off('data', onData);
      splitter.destroy();
    },
  };
}
