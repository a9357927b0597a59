/**
 * Scenarios whose right answer depends on the firmware's TLS versions: 13 and 14 against a board
 * built with TLS 1.3, where a refused device certificate reaches the device only after its own
 * handshake has completed.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REFERENCE_SDKCONFIG } from '../../emulator/index.ts';
import type { RunResults } from '../../harness/report/model.ts';
import { REPO, hilt, tempDir } from '../helpers.ts';

const SCENARIOS = ['13-device-certificate-expired.spec.ts', '14-device-certificate-unknown-ca.spec.ts'].map((f) => join(REPO, 'scenarios', f));

describe('scenarios 13 and 14 with TLS 1.3 in the sdkconfig', function () {
  this.timeout(60_000);

  it('pass, and say in the report why the device saw a close rather than a failed handshake', async function () {
    const tmp = await tempDir('hilt-tls13-');
    try {
      const sdkconfig = join(tmp.dir, 'sdkconfig');
      await writeFile(sdkconfig, REFERENCE_SDKCONFIG.replace('# CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is not set', 'CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y'));
      const { code, stdout } = await hilt(['run', ...SCENARIOS, '--target', `emulator:?sdkconfig=${sdkconfig}`], { cwd: tmp.dir, timeoutMs: 45_000 });
      expect(code, stdout).to.equal(0);
      const r = JSON.parse(await readFile(join(tmp.dir, 'reports', 'latest', 'results.json'), 'utf8')) as RunResults;
      expect(r.run.security).to.include({ tls13: true });
      expect(r.scenarios).to.have.length(2);
      for (const s of r.scenarios) {
        expect(s.outcome).to.equal('passed');
        expect((s.notes ?? []).join('\n')).to.match(/TLS 1\.3 .*ESP_ERR_ESP_TLS_TCP_CLOSED_FIN/);
      }
    } finally {
      await tmp.remove();
    }
  });
});
