/** The target registry: a new kind is one file and one line in KINDS. */
import { UsageError, hasControlCharacter, quoted } from '../../errors.ts';
import { emulatorTarget } from './emulator.ts';
import { nativeTarget } from './native.ts';
import { qemuTarget } from './qemu.ts';
import { rfc2217Target } from './rfc2217.ts';
import { serialTarget } from './serial.ts';
import { tcpTarget } from './tcp.ts';
import type { Target, TargetContext, TargetKind } from './target.ts';

export const KINDS: readonly TargetKind[] = [emulatorTarget, serialTarget, tcpTarget, rfc2217Target, qemuTarget, nativeTarget];

export function resolveTarget(url: string, context: TargetContext = {}): Target {
  // Checked first: every message below quotes the target as given.
  if (hasControlCharacter(url)) {
    throw new UsageError(`target ${quoted(url)} has a control character: write the target on one line, e.g. serial:/dev/ttyUSB0`);
  }
  const [head, ...queryParts] = url.split('?');
  const query = new URLSearchParams(queryParts.join('?'));
  const colon = head!.indexOf(':');
  const kind = colon === -1 ? head! : head!.slice(0, colon);
  const rest = colon === -1 ? '' : head!.slice(colon + 1);
  const found = KINDS.find((k) => k.kind === kind);
  if (!found) {
    throw new UsageError(`target ${url}: unknown kind ${JSON.stringify(kind)}: use one of ${KINDS.map((k) => k.kind).join(', ')} (e.g. serial:/dev/ttyUSB0)`);
  }
  return found.parse(rest, query, url, context);
}

export type { BenchSettings, Target, TargetContext, TargetKind } from './target.ts';
