/**
 * firmware/tools/check-idf-port.sh: the one check the ESP-IDF port gets on this machine (it cannot
 * be built here). Its refusals always run; the compile itself needs an ESP-IDF v5.5 checkout with
 * its submodules, named by HILT_IDF_PATH (docs/agent-firmware.md says how to make one), and is
 * skipped with the reason when there is none.
 */
import { expect } from 'chai';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, run, tempDir } from '../helpers.ts';

const SCRIPT = join(REPO, 'firmware', 'tools', 'check-idf-port.sh');
const IDF = process.env.HILT_IDF_PATH;

describe('check-idf-port.sh', () => {
  it('refuses a folder that is not an ESP-IDF checkout in one line, exit 2', async () => {
    const tmp = await tempDir();
    try {
      const ran = await run('bash', [SCRIPT, tmp.dir]);
      expect(ran.code).to.equal(2);
      expect(ran.stdout).to.equal('');
      expect(ran.stderr.trimEnd().split('\n')).to.have.length(1);
      expect(ran.stderr).to.contain(join(tmp.dir, 'components', 'esp-tls', 'esp_tls.h'));
    } finally {
      await tmp.remove();
    }
  });

  it('names the submodule to check out when esp-mqtt is missing', async () => {
    const tmp = await tempDir();
    try {
      await mkdir(join(tmp.dir, 'components', 'esp-tls'), { recursive: true });
      await writeFile(join(tmp.dir, 'components', 'esp-tls', 'esp_tls.h'), '');
      const ran = await run('bash', [SCRIPT, tmp.dir]);
      expect(ran.code).to.equal(2);
      expect(ran.stderr.trimEnd().split('\n')).to.have.length(1);
      expect(ran.stderr).to.contain('git submodule update --init components/mqtt/esp-mqtt');
    } finally {
      await tmp.remove();
    }
  });

  it('refuses to run without exactly one argument', async () => {
    const ran = await run('bash', [SCRIPT]);
    expect(ran.code).to.equal(2);
    expect(ran.stderr).to.match(/^usage: check-idf-port\.sh IDF_PATH/);
  });

  describe('against a real ESP-IDF v5.5 checkout (HILT_IDF_PATH)', function () {
    before(function () {
      if (!IDF) {
        console.log('      skipped: HILT_IDF_PATH names no ESP-IDF v5.5 checkout (see docs/agent-firmware.md)');
        this.skip();
      }
    });

    it('compiles every port file, the app and the configuration check', async () => {
      const ran = await run('bash', [SCRIPT, IDF!], { timeoutMs: 120_000 });
      expect(ran.stderr).to.equal('');
      const lines = ran.stdout.trimEnd().split('\n');
      expect(lines.filter((l) => !l.startsWith('ok '))).to.deep.equal([]);
      for (const file of ['console.c', 'net.c', 'port_idf.c', 'system.c']) {
        expect(lines).to.include(`ok      port_idf/${file}`);
      }
      expect(ran.code).to.equal(0);
    });

    it('fails, naming the file and the error, when the port calls esp-tls wrongly', async () => {
      // A copy of firmware/ (the script finds the component beside itself) with one bad call.
      const tmp = await tempDir();
      try {
        const copy = join(tmp.dir, 'firmware');
        await cp(join(REPO, 'firmware', 'tools'), join(copy, 'tools'), { recursive: true });
        await cp(join(REPO, 'firmware', 'agent-app'), join(copy, 'agent-app'), { recursive: true });
        await cp(join(REPO, 'firmware', 'components'), join(copy, 'components'), { recursive: true });
        const net = join(copy, 'components', 'hilt_agent', 'port_idf', 'net.c');
        const text = await readFile(net, 'utf8');
        const call = 'esp_tls_conn_new_sync(cfg->host, (int)strlen(cfg->host), cfg->port, &tc, tls)';
        expect(text).to.contain(call);
        await writeFile(net, text.replace(call, 'esp_tls_conn_new_sync(cfg->host, cfg->port, &tc, tls)'));
        const ran = await run('bash', [join(copy, 'tools', 'check-idf-port.sh'), IDF!], { timeoutMs: 120_000 });
        expect(ran.code).to.equal(1);
        expect(ran.stdout).to.contain('FAILED  port_idf/net.c');
        expect(ran.stdout).to.contain('esp_tls_conn_new_sync');
        expect(ran.stdout).to.contain('ok      port_idf/system.c');
      } finally {
        await tmp.remove();
      }
    });
  });
});
