/**
 * `hilt endpoint`'s files: the C header compiles and holds the PEMs byte for byte; keys are 0600.
 * (The command itself, with the endpoint up, is tested once the lab's endpoint exists.)
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { endpointHeader, writeEndpointFiles } from '../../harness/cli/endpoint.ts';
import type { EndpointMaterials } from '../../harness/run/endpoint-contract.ts';
import { hilt, tempDir, withLabPki } from '../helpers.ts';

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
    if (!hasGcc) this.skip();
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
      [['--host', 'bench local'], /^hilt: --host "bench local": not a host name or address: give an IP of this machine \(192\.168\.1\.20\) or 0\.0\.0\.0\n$/],
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
});
