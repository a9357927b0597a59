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
      await writeFile(join(tmp.dir, 'Kconfig'), '');
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
      expect(lines.filter((l) => !l.startsWith('ok ') && !l.startsWith('note '))).to.deep.equal([]);
      expect(lines).to.include('ok      Kconfig: sdkconfig.defaults');
      expect(lines).to.include('ok      Kconfig: sdkconfig.defaults + sdkconfig.qemu');
      for (const file of ['console.c', 'net.c', 'port_idf.c', 'system.c']) {
        expect(lines).to.include(`ok      port_idf/${file}`);
      }
      expect(lines).to.include('ok      core/hilt_core.c');
      expect(ran.code).to.equal(0);
    });

    /** A copy of firmware/ (the script finds the component and the app beside itself). */
    async function firmwareCopy(dir: string): Promise<string> {
      const copy = join(dir, 'firmware');
      for (const part of ['tools', 'agent-app', 'components']) {
        await cp(join(REPO, 'firmware', part), join(copy, part), { recursive: true });
      }
      return copy;
    }

    it('fails, naming the file and the error, when the port calls esp-tls wrongly', async () => {
      const tmp = await tempDir();
      try {
        const copy = await firmwareCopy(tmp.dir);
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

    it('fails on an option sdkconfig.defaults sets that no Kconfig defines', async () => {
      const tmp = await tempDir();
      try {
        const copy = await firmwareCopy(tmp.dir);
        const defaults = join(copy, 'agent-app', 'sdkconfig.defaults');
        await writeFile(defaults, `${await readFile(defaults, 'utf8')}CONFIG_HILT_AGENT_SLOT=4\n`);
        const ran = await run('bash', [join(copy, 'tools', 'check-idf-port.sh'), IDF!], { timeoutMs: 120_000 });
        expect(ran.code).to.equal(1);
        expect(ran.stdout).to.contain('FAILED  Kconfig: sdkconfig.defaults');
        expect(ran.stdout).to.contain('undefined symbol HILT_AGENT_SLOT');
      } finally {
        await tmp.remove();
      }
    });
  });
});
