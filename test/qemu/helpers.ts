/**
 * QEMU for tests. Espressif's qemu-system-xtensa (the esp32 machine) cannot be installed on these
 * machines; Debian's upstream one (qemu-system-misc) can. Tests run the real upstream binary on
 * one of its own machines (`-M none`: no CPU, but real serial and QMP sockets, real reset and
 * quit), and, for whole runs through HILT_QEMU, a stand-in script that takes the esp32 command
 * line hilt builds, records it, and runs upstream QEMU with `-M none` and the same sockets.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const UPSTREAM_QEMU = ['/usr/bin/qemu-system-xtensa', '/usr/local/bin/qemu-system-xtensa'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}) ?? null;

/** Skips the block with a line saying what is missing, when qemu-system-xtensa is not installed. */
export function needQemu(ctx: Mocha.Context): string {
  if (!UPSTREAM_QEMU) {
    console.log('    (qemu-system-xtensa is not installed: these tests need it; apt-get install --no-install-recommends qemu-system-misc)');
    ctx.skip();
  }
  return UPSTREAM_QEMU!;
}

/**
 * Writes the stand-in for Espressif's QEMU into `dir`: it writes its pid to `<dir>/qemu.pid` and its
 * arguments, one a line, to `<dir>/qemu.args`, then becomes upstream QEMU (exec, same pid) with
 * `-M none`, keeping -serial, -qmp and -S. Returns its path, for HILT_QEMU.
 */
export async function writeQemuStandIn(dir: string, upstream: string): Promise<string> {
  const path = join(dir, 'esp32-qemu-stand-in');
  await writeFile(path, `#!/bin/bash
printf '%s\\n' "$@" > '${dir}/qemu.args.tmp' && mv '${dir}/qemu.args.tmp' '${dir}/qemu.args'
keep=()
while [ $# -gt 0 ]; do
  case "$1" in
    -serial|-qmp) keep+=("$1" "$2"); shift 2 ;;
    -S) keep+=("$1"); shift ;;
    *) shift ;;
  esac
done
echo $$ > '${dir}/qemu.pid.tmp' && mv '${dir}/qemu.pid.tmp' '${dir}/qemu.pid'
exec '${upstream}' -M none -nographic -monitor none "\${keep[@]}"
`);
  await chmod(path, 0o755);
  return path;
}
