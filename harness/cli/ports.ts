/**
 * `hilt ports [--json]`: the serial ports on this machine, what is behind each (VID:PID, serial
 * number, manufacturer, bus location), which USB bridge and board family that looks like, and
 * how to target it; and how the list was made (udev, sysfs, or only the names in /dev).
 */
import type { Command } from 'commander';
import { bridgeFor } from '../device/reset-sequence.ts';
import { listPorts, type PortInfo } from '../transport/ports.ts';

export interface PortRow extends PortInfo {
  bridge?: string;
  family?: string;
  /** The --target that finds this board again after it re-enumerates, when it has a serial number. */
  target: string;
}

export function describePort(p: PortInfo): PortRow {
  const b = p.vid && p.pid ? bridgeFor(parseInt(p.vid, 16), parseInt(p.pid, 16)) : undefined;
  const target = p.serialNumber ? `serial:?serial_number=${encodeURIComponent(p.serialNumber)}` : `serial:${p.path}`;
  return { ...p, ...(b ? { bridge: b.name, family: b.family } : {}), target };
}

function line(r: PortRow): string {
  const usb = r.vid ? `${r.vid}:${r.pid ?? '????'}` : 'no USB identity';
  const what = r.bridge ? `${r.bridge} (${r.family})` : r.vid ? 'unknown bridge' : '';
  const parts = [
    r.path, usb, r.serialNumber ? `serial ${r.serialNumber}` : '', r.manufacturer ?? '', r.location ? `at ${r.location}` : '', what,
  ].filter(Boolean);
  return `${parts.join('  ')}\n    --target ${r.target}`;
}

export function registerPorts(program: Command): void {
  program
    .command('ports')
    .description('list the serial ports: path, VID:PID, serial number, manufacturer, location, bridge and board family')
    .option('--json', 'one JSON object: how the ports were listed, and the ports', false)
    .action(async (opts: { json: boolean }) => {
      const list = await listPorts();
      const rows = list.ports.map(describePort);
      if (opts.json) {
        console.log(JSON.stringify({ listedBy: list.by, source: list.source, ports: rows }, null, 2));
        return;
      }
      for (const r of rows) console.log(line(r));
      console.log(`${rows.length ? rows.length : 'no'} serial port${rows.length === 1 ? '' : 's'} (${list.source})`);
    });
}
