/** `hilt certs`: create or refresh the lab PKI; `hilt certs device <id>`: mint a device certificate. */
import type { Command } from 'commander';
import { shown } from './args.ts';
import { ensurePki, type Pki } from '../pki/index.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

function printChanges(pki: Pki): void {
  const counts = { created: 0, reissued: 0, kept: 0, warning: 0 };
  for (const change of pki.changes) {
    counts[change.action] += 1;
    if (change.action === 'kept') continue;
    const where = change.action === 'warning' ? '' : `  ${shown(pki.path(change.name))}`;
    console.log(`  ${change.action.padEnd(8)} ${change.name.padEnd(22)}${where}${change.reason ? `  (${change.reason})` : ''}`);
  }
  console.log(`${shown(pki.dir) || '.'}: ${counts.created} created, ${counts.reissued} reissued, ${counts.kept} kept; ` +
    `hosts ${pki.manifest.hosts.join(' ')}; manifest ${shown(pki.dir + '/manifest.json')}`);
}

export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    .description('create the lab PKI (roots, issuing CA, broker and device certificates, bundles); idempotent')
    .option('--dir <dir>', 'certs directory', 'certs')
    .option('--host <name-or-ip>', 'extra name on the broker certificates (repeatable): LAN name/IP, 10.0.2.2 for QEMU', collect, [])
    .option('--force', 'replace everything, roots included (firmware embedding the old root must be rebuilt)', false)
    .action(async (opts: { dir: string; host: string[]; force: boolean }) => {
      printChanges(await ensurePki({ dir: opts.dir, hosts: opts.host, force: opts.force }));
    });

  certs
    .command('device <id>')
    .description('mint a valid device (client) certificate whose CN is <id>, the MQTT client id')
    .action(async (id: string) => {
      const { dir } = certs.opts<{ dir: string }>();
      const pki = await ensurePki({ dir, devices: [id] });
      printChanges(pki);
      console.log(`device ${id}: certificate ${shown(pki.path(`device/${id}`, 'cert'))}, key ${shown(pki.path(`device/${id}`, 'key'))}`);
    });
}
