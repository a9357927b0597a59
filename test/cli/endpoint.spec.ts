/**
 * `hilt endpoint`'s files: the C header compiles and holds the PEMs byte for byte; keys are 0600.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import mqtt from 'mqtt';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { endpointHeader, writeEndpointFiles } from '../../harness/cli/endpoint.ts';
import type { EndpointMaterials } from '../../harness/lab/index.ts';
import { HILT_BIN, hilt, tempDir, withLabPki } from '../helpers.ts';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;

describe('hilt endpoint files', function () {
  const lab = withLabPki({ devices: ['esp32-hilt'] });
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => { ({ dir, remove } = await tempDir()); });
  after(() => remove());

  const materials = (): EndpointMaterials => {
    const own = lab.pki.material('device/esp32-hilt');
    return {
      uri: 'mqtts://192.168.1.20:8883', host: '192.168.1.20', port: 8883, hostNames: ['192.168.1.20', 'localhost'],
      caBundlePath: '', caBundlePem: lab.pki.bundle('bundle-transition'), certPath: '', keyPath: '', certPem: own.cert, keyPem: own.key,
    };
  };

  it('writes ca.pem, device.crt, device.key and hilt_endpoint.h; the key and the header that holds it are 0600', async function () {
    const out = join(dir, 'hil', 'endpoint');
    const paths = await writeEndpointFiles(out, materials(), 'esp32-hilt');
    expect(await readFile(paths.ca, 'utf8')).to.equal(materials().caBundlePem);
    expect(await readFile(paths.cert, 'utf8')).to.equal(materials().certPem);
    expect(await readFile(paths.key, 'utf8')).to.equal(materials().keyPem);
    expect((await stat(paths.key)).mode & 0o777).to.equal(0o600);
    expect((await stat(paths.header)).mode & 0o777).to.equal(0o600);
    expect(((await stat(paths.ca)).mode & 0o077) & 0o022).to.equal(0);
  });

  it('the header names the URI and host, mentions EMBED_TXTFILES, and compiles to the PEMs byte for byte', async function () {
    if (!hasGcc) {
      console.log('    (gcc is not installed: this test compiles the header with it; apt-get install gcc)');
      this.skip();
    }
    const m = materials();
    const header = endpointHeader(m, 'esp32-hilt');
    expect(header).to.include('#define HILT_BROKER_URI "mqtts://192.168.1.20:8883"').and.include('#define HILT_BROKER_HOST "192.168.1.20"')
      .and.include('EMBED_TXTFILES ca.pem device.crt device.key').and.include('#define HILT_CLIENT_ID "esp32-hilt"');
    await writeFile(join(dir, 'hilt_endpoint.h'), header);
    await writeFile(join(dir, 'main.c'), `#include <stdio.h>
#include "hilt_endpoint.h"
int main(int argc, char **argv) {
  const char *which = argv[1];
  fputs(which[0] == 'c' ? HILT_CA_PEM : which[0] == 'd' ? HILT_DEVICE_CERT_PEM : which[0] == 'k' ? HILT_DEVICE_KEY_PEM : HILT_BROKER_URI, stdout);
  return argc == 2 && HILT_BROKER_PORT == 8883 ? 0 : 1;
}
`);
    execFileSync('gcc', ['-Wall', '-Werror', '-o', join(dir, 'show'), join(dir, 'main.c')], { cwd: dir });
    const show = (what: string) => execFileSync(join(dir, 'show'), [what], { encoding: 'utf8' });
    expect(show('ca')).to.equal(m.caBundlePem.trimEnd() + '\n');
    expect(show('device')).to.equal(m.certPem.trimEnd() + '\n');
    expect(show('key')).to.equal(m.keyPem.trimEnd() + '\n');
    expect(show('uri')).to.equal(m.uri);
  });

  describe('bad values: one line, exit 2, before anything starts', function () {
    const cases: Array<[string[], RegExp]> = [
      [['--port', 'eighty'], /^hilt: --port "eighty": give a whole number from 0 to 65535\n$/],
      [['--port', '70000'], /^hilt: --port "70000": give a whole number from 0 to 65535\n$/],
      [['--device', 'esp32/+'], /^hilt: --device "esp32\/\+": use letters, digits, '\.', '_' and '-' \(up to 64\), e\.g\. esp32-hilt\n$/],
      [['--host', 'bench local'], /^hilt: --host "bench local": not a host name or address: give the address of this machine a board can reach, e\.g\. --host 192\.168\.1\.20\n$/],
      [['--host', '0.0.0.0'], /^hilt: --host "0\.0\.0\.0": every address of this machine, which no board can connect to or find on a certificate: give the address of this machine a board can reach, e\.g\. --host 192\.168\.1\.20\n$/],
      [['--host', '::'], /^hilt: --host "::": every address of this machine, which no board can connect to or find on a certificate: give the address of this machine a board can reach, e\.g\. --host 192\.168\.1\.20\n$/],
      [['--advertise', '0.0.0.0'], /^hilt: --advertise "0\.0\.0\.0": give the name or address the board reaches this machine by, e\.g\. --advertise 10\.0\.2\.2 for QEMU\n$/],
      [['--dir', ''], /^hilt: --dir "": empty value: give <dir>, or leave --dir out \(default: hil\/endpoint\)\n$/],
    ];
    for (const [args, message] of cases) {
      it(`hilt endpoint ${args.join(' ')}`, async function () {
        const ran = await hilt(['endpoint', '--certs', join(dir, 'certs'), ...args], { cwd: dir });
        expect(ran.code).to.equal(2);
        expect(ran.stderr).to.match(message);
        expect(ran.stdout).to.equal('');
      });
    }
  });

  describe('the command, with the lab\'s endpoint', function () {
    this.timeout(30_000);

    /** `hilt endpoint --json ...` in the background; resolves each JSON line's wait as it comes. */
    function start(cwd: string, args: string[]) {
      const child = spawn(process.execPath, [HILT_BIN, 'endpoint', '--json', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const seen: Array<Record<string, unknown>> = [];
      let raw = '';
      child.stdout!.on('data', (b: Buffer) => { raw += b.toString(); });
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => { seen.push(JSON.parse(line) as Record<string, unknown>); lines.emit('json'); });
      const waitFor = (match: (o: Record<string, unknown>) => boolean) => new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not seen within 20 s; stdout so far: ${raw}`)), 20_000);
        const check = () => {
          const found = seen.find(match);
          if (found) { clearTimeout(timer); lines.off('json', check); resolve(found); }
        };
        lines.on('json', check);
        check();
      });
      return { child, exited, waitFor, raw: () => raw };
    }

    it('writes the files, prints the URI and paths (never a key), serves a device with them, and stops on Ctrl-C', async function () {
      const { dir: cwd, remove: rm } = await tempDir();
      const ep = start(cwd, ['--port', '0', '--certs', 'certs', '--device', 'bench-7']);
      try {
        const info = await ep.waitFor((o) => o.type === 'endpoint');
        await ep.waitFor((o) => o.type === 'ready');
        const files = info.files as Record<string, string>;
        expect(files.header).to.equal(join(cwd, 'hil', 'endpoint', 'hilt_endpoint.h'));
        expect((await stat(files.key!)).mode & 0o777).to.equal(0o600);
        expect(info.clientId).to.equal('bench-7');
        const client = await mqtt.connectAsync(String(info.uri), {
          ca: await readFile(files.ca!, 'utf8'), cert: await readFile(files.cert!, 'utf8'), key: await readFile(files.key!, 'utf8'),
          clientId: 'bench-7', servername: 'localhost', reconnectPeriod: 0, connectTimeout: 5_000,
        } as mqtt.IClientOptions, false);
        await client.endAsync();
        const attempt = await ep.waitFor((o) => o.type === 'attempt');
        expect(attempt).to.include({ listener: 'endpoint' });
        expect(ep.raw()).to.not.include('PRIVATE KEY');
        ep.child.kill('SIGINT');
        expect(await ep.exited).to.equal(0);
      } finally {
        ep.child.kill('SIGKILL');
        await rm();
      }
    });

    it('--host 127.0.0.2 (an address a board could reach): in the header, on the server certificate, and a device verifies it', async function () {
      const { dir: cwd, remove: rm } = await tempDir();
      const ep = start(cwd, ['--host', '127.0.0.2', '--port', '0', '--certs', 'certs', '--device', 'bench-7']);
      try {
        const info = await ep.waitFor((o) => o.type === 'endpoint');
        await ep.waitFor((o) => o.type === 'ready');
        expect(String(info.uri)).to.match(/^mqtts:\/\/127\.0\.0\.2:\d+$/);
        expect(info.hostNames).to.include('127.0.0.2');
        const files = info.files as Record<string, string>;
        expect(await readFile(files.header!, 'utf8')).to.include(`#define HILT_BROKER_URI "${String(info.uri)}"`);
        // No servername: the device checks the certificate against the address it was given.
        const client = await mqtt.connectAsync(String(info.uri), {
          ca: await readFile(files.ca!, 'utf8'), cert: await readFile(files.cert!, 'utf8'), key: await readFile(files.key!, 'utf8'),
          clientId: 'bench-7', reconnectPeriod: 0, connectTimeout: 5_000,
        } as mqtt.IClientOptions, false);
        await client.endAsync();
        ep.child.kill('SIGINT');
        expect(await ep.exited).to.equal(0);
      } finally {
        ep.child.kill('SIGKILL');
        await rm();
      }
    });

    it('--advertise 10.0.2.2 (a board in QEMU): the header and the certificate name 10.0.2.2 while the endpoint listens on 127.0.0.1', async function () {
      const { dir: cwd, remove: rm } = await tempDir();
      const ep = start(cwd, ['--advertise', '10.0.2.2', '--port', '0', '--certs', 'certs', '--device', 'bench-7']);
      try {
        const info = await ep.waitFor((o) => o.type === 'endpoint');
        await ep.waitFor((o) => o.type === 'ready');
        const uri = String(info.uri);
        expect(uri).to.match(/^mqtts:\/\/10\.0\.2\.2:\d+$/);
        expect(info.hostNames).to.include('10.0.2.2');
        const files = info.files as Record<string, string>;
        expect(await readFile(files.header!, 'utf8')).to.include(`#define HILT_BROKER_URI "${uri}"`);
        // What QEMU's user network does: the guest dials 10.0.2.2, the host's 127.0.0.1 answers, and
        // the device checks the certificate against the name it dialled.
        const port = new URL(uri).port;
        const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
          ca: await readFile(files.ca!, 'utf8'), cert: await readFile(files.cert!, 'utf8'), key: await readFile(files.key!, 'utf8'),
          clientId: 'bench-7', reconnectPeriod: 0, connectTimeout: 5_000,
          checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity('10.0.2.2', cert),
        } as mqtt.IClientOptions, false);
        await client.endAsync();
        ep.child.kill('SIGINT');
        expect(await ep.exited).to.equal(0);
      } finally {
        ep.child.kill('SIGKILL');
        await rm();
      }
    });

    it('a port in use: one line naming it and --port (which the user gave), exit 2', async function () {
      const { dir: cwd, remove: rm } = await tempDir();
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as AddressInfo).port;
      try {
        const ran = await hilt(['endpoint', '--port', String(port), '--certs', 'certs'], { cwd, timeoutMs: 20_000 });
        expect(ran.code).to.equal(2);
        expect(ran.stderr).to.match(new RegExp(`^hilt: .*${port}.*EADDRINUSE.*\\n$`));
        expect(ran.stderr).to.include('give another --port (0: any free port)').and.not.include('hilt.config.json');
        expect(ran.stderr.trim().split('\n')).to.have.length(1);
      } finally {
        await new Promise((resolve) => holder.close(resolve));
        await rm();
      }
    });
  });
});

