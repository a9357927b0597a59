/** hilt.config.json: every field validated, one line per mistake naming the file and the field. */
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { SEQUENCES } from '../../harness/device/reset-sequence.ts';
import { DEFAULTS, loadConfig, parseBudget, validateConfig, withinBudget } from '../../harness/run/config.ts';
import { rejection, tempDir } from '../helpers.ts';

describe('run configuration', function () {
  it('reads every field', function () {
    const config = validateConfig({
      target: 'serial:/dev/ttyUSB0', certsDir: 'lab-certs', reportDir: 'out', lab: { hosts: ['192.168.1.20'] },
      timeouts: { scenarioMs: 90_000, commandMs: 5_000, helloMs: 2_000 }, repeat: 5,
      budgets: { tls_ms: '<= 2000', heap_peak_used: '<= 48 KiB' }, scenarios: ['hil/', 'vendor/*.spec.ts'],
    }, 'hilt.config.json');
    expect(config).to.include({ target: 'serial:/dev/ttyUSB0', certsDir: 'lab-certs', reportDir: 'out', repeat: 5, scenarioTimeoutMs: 90_000, commandTimeoutMs: 5_000, helloTimeoutMs: 2_000 });
    expect(config.labHosts).to.deep.equal(['192.168.1.20']);
    expect(config.budgets.map((b) => [b.metric, b.op, b.limit])).to.deep.equal([['tls_ms', '<=', 2000], ['heap_peak_used', '<=', 48 * 1024]]);
    expect(config.scenarios).to.deep.equal(['hil/', 'vendor/*.spec.ts']);
  });

  it('scenarios: one path is a list of one; none given means hilt\'s catalogue (null)', function () {
    expect(validateConfig({ scenarios: 'hil' }, 'f').scenarios).to.deep.equal(['hil']);
    expect(validateConfig({}, 'f').scenarios).to.equal(null);
  });

  it('keeps where the target and the lab hosts came from, for messages that judge them later', function () {
    const config = validateConfig({ target: 'tcp:bench:5555', lab: { hosts: ['192.168.1.20'] } }, 'bench.json');
    expect(config.sources).to.deep.equal({ target: 'bench.json: target', labHosts: 'bench.json: lab.hosts' });
    expect(validateConfig({}, 'f').sources).to.deep.equal({});
  });

  it('reads the firmware-mode fields: reset command, endpoint, device id and per-scenario bounds', function () {
    const config = validateConfig({
      reset: { command: 'uhubctl -a cycle -p 2', timeoutMs: 20_000 }, endpoint: { host: '127.0.0.1', port: 18883 },
      firmware: { deviceId: 'bench-7', scenarios: { 'MQTT Connect Backoff': { boundMs: 180_000, attempts: 6 }, 'TLS Connect': {} } },
    }, 'f');
    expect(config.reset).to.deep.equal({ command: 'uhubctl -a cycle -p 2', timeoutMs: 20_000 });
    expect(config.endpoint).to.deep.equal({ host: '127.0.0.1', port: 18883 });
    expect(config.firmware).to.deep.equal({ deviceId: 'bench-7', scenarios: { 'MQTT Connect Backoff': { boundMs: 180_000, attempts: 6 }, 'TLS Connect': {} } });
    expect(validateConfig({ reset: { command: 'true' } }, 'f').reset).to.deep.equal({ command: 'true', timeoutMs: 30_000 });
    // A scenario titled like an Object property is a title, not the prototype.
    const proto = validateConfig(JSON.parse('{"firmware": {"scenarios": {"__proto__": {"boundMs": 500}}}}'), 'f');
    expect(Object.keys(proto.firmware.scenarios)).to.deep.equal(['__proto__']);
    expect(Object.getPrototypeOf(proto.firmware.scenarios)).to.equal(Object.prototype);
  });

  it('reads the bench\'s reset sequences: named or spelled out, one download sequence or a list', function () {
    const config = validateConfig({ bench: { reset: { hard: 'R1|W250|R0', download: ['classic-slow', 'D0|R1|W100|D1|R0|W900|D0'], bootTimeoutMs: 3000 } } }, 'f');
    expect(config.bench.hard).to.include({ name: 'custom', text: 'R1|W250|R0', expect: 'flash' });
    expect(config.bench.download!.map((s) => s.text)).to.deep.equal([SEQUENCES['classic-slow'].text, 'D0|R1|W100|D1|R0|W900|D0']);
    expect(config.bench.bootTimeoutMs).to.equal(3000);
    expect(validateConfig({ bench: { reset: { download: 'usb-jtag', hard: 'hard-usb' } } }, 'f').bench).to.deep.equal({ download: [SEQUENCES['usb-jtag']], hard: SEQUENCES['hard-usb'] });
  });

  it('an empty object means the defaults', function () {
    expect(validateConfig({}, 'f')).to.deep.equal(DEFAULTS);
  });

  const mistakes: Array<[string, unknown, RegExp]> = [
    ['a list at the top', [], /^hilt\.config\.json: \(top level\): expected a JSON object/],
    ['an unknown field', { targt: 'emulator' }, /^hilt\.config\.json: targt: unknown field: hilt\.config\.json takes target, /],
    ['a target that is not a string', { target: 3 }, /^hilt\.config\.json: target: expected a non-empty string$/],
    ['repeat 0', { repeat: 0 }, /^hilt\.config\.json: repeat: expected a whole number from 1 to 1000$/],
    ['hosts not a list', { lab: { hosts: 'x' } }, /^hilt\.config\.json: lab\.hosts: expected a list/],
    ['an unknown timeout', { timeouts: { scenario: 5 } }, /^hilt\.config\.json: timeouts\.scenario: unknown field/],
    ['a budget on an unknown metric', { budgets: { speed: '<= 1' } }, /^hilt\.config\.json: budgets\.speed: unknown metric: use one of dns_ms, /],
    ['a budget that is not one', { budgets: { tls_ms: 'fast' } }, /^hilt\.config\.json: budgets\.tls_ms: "fast" is not a budget: write "<= 2000"/],
    ['a budget in the wrong unit', { budgets: { tls_ms: '<= 4 KiB' } }, /^hilt\.config\.json: budgets\.tls_ms: KiB does not measure tls_ms \(a time\)$/],
    // Found by test/faults/fuzz.spec.ts: names every object has were taken as metrics.
    ['"constructor" as a budget metric', JSON.parse('{"budgets": {"constructor": "<= 5"}}'), /^hilt\.config\.json: budgets\.constructor: unknown metric: use one of dns_ms, /],
    ['"__proto__" as a budget metric', JSON.parse('{"budgets": {"__proto__": "<= 5"}}'), /^hilt\.config\.json: budgets\.__proto__: unknown metric: use one of dns_ms, /],
    ['a budget too large to be a number', { budgets: { tls_ms: `<= ${'9'.repeat(400)}` } }, /^hilt\.config\.json: budgets\.tls_ms: "<= 9+" is not a budget: the limit is too large$/],
    ['a field name with a line break', { 'tar\nget': 'emulator' }, /^hilt\.config\.json: tar\\nget: unknown field: /],
    ['a path with a control character', { certsDir: 'lab\u0000certs' }, /^hilt\.config\.json: certsDir: "lab\\u0000certs" has a control character: write it on one line, without escapes$/],
    ['a path with a DEL character', { reportDir: 'out\x7f' }, /^hilt\.config\.json: reportDir: "out\\u007f" has a control character: /],
    ['a budget with a control character', { budgets: { tls_ms: '<= 5\x9b2J' } }, /^hilt\.config\.json: budgets\.tls_ms: "<= 5\\u009b2J" is not a budget: /],
    ['an empty list of scenarios', { scenarios: [] }, /^hilt\.config\.json: scenarios: expected a folder, a file or a glob, or a list of them, like \["hil\/"\]$/],
    ['scenarios that are not paths', { scenarios: { dir: 'hil' } }, /^hilt\.config\.json: scenarios: expected a folder, a file or a glob/],
    ['an empty scenario path', { scenarios: ['hil', ''] }, /^hilt\.config\.json: scenarios\[1\]: expected a non-empty string$/],
    ['a lab host that is no host name', { lab: { hosts: ['bench local'] } }, /^hilt\.config\.json: lab\.hosts\[0\]: "bench local" is not a host name or IP address: give a DNS name \(bench\.local\) or an address \(192\.168\.1\.20\)$/],
    ['a reset that is a string', { reset: 'uhubctl' }, /^hilt\.config\.json: reset: expected an object like \{"command": "uhubctl -a cycle -p 2", "timeoutMs": 30000\}$/],
    ['a reset without its command', { reset: { timeoutMs: 5000 } }, /^hilt\.config\.json: reset\.command: missing: give the shell command that resets the board/],
    ['a reset command on two lines', { reset: { command: 'a\nb' } }, /^hilt\.config\.json: reset\.command: "a\\nb" has a control character/],
    ['a reset timeout of 0', { reset: { command: 'true', timeoutMs: 0 } }, /^hilt\.config\.json: reset\.timeoutMs: expected a whole number from 100 to 600000$/],
    ['an unknown reset field', { reset: { command: 'true', shell: 'zsh' } }, /^hilt\.config\.json: reset\.shell: unknown field: reset takes command, timeoutMs$/],
    ['an unknown bench field', { bench: { power: {} } }, /^hilt\.config\.json: bench\.power: unknown field: bench takes reset$/],
    ['a bench reset that names a download sequence as the hard reset', { bench: { reset: { hard: 'classic' } } }, /^hilt\.config\.json: bench\.reset\.hard: classic enters download mode: put it under bench\.reset\.download$/],
    ['a bench reset with a bad step', { bench: { reset: { download: ['classic', 'D0|R1|W0.05'] } } }, /^hilt\.config\.json: bench\.reset\.download\[1\]: reset sequence "D0\|R1\|W0\.05": step 3 "W0\.05" counts seconds as esptool does: write milliseconds, e\.g\. W100 for W0\.1; or name one of classic, /],
    ['an empty list of download sequences', { bench: { reset: { download: [] } } }, /^hilt\.config\.json: bench\.reset\.download: expected a sequence or a list of them/],
    ['an endpoint port out of range', { endpoint: { port: 70000 } }, /^hilt\.config\.json: endpoint\.port: expected a whole number from 0 to 65535$/],
    ['an endpoint port as a string', { endpoint: { port: '8883' } }, /^hilt\.config\.json: endpoint\.port: expected a whole number/],
    ['an endpoint host that is no host', { endpoint: { host: 'bench local' } }, /^hilt\.config\.json: endpoint\.host: "bench local" is not a host name or IP address/],
    ['an endpoint host of every address', { endpoint: { host: '0.0.0.0' } }, /^hilt\.config\.json: endpoint\.host: "0\.0\.0\.0" means every address of this machine, which no board can connect to/],
    ['an unknown firmware field', { firmware: { bound: 5 } }, /^hilt\.config\.json: firmware\.bound: unknown field: firmware takes deviceId, scenarios$/],
    ['a device id with a wildcard', { firmware: { deviceId: 'esp32/+' } }, /^hilt\.config\.json: firmware\.deviceId: "esp32\/\+": use letters, digits/],
    ['a scenario bound that is no number', { firmware: { scenarios: { 'MQTT Connect': { boundMs: 'long' } } } }, /^hilt\.config\.json: firmware\.scenarios\["MQTT Connect"\]\.boundMs: expected a whole number from 100 to 3600000$/],
    ['a scenario with an unknown setting', { firmware: { scenarios: { 'MQTT Connect': { retries: 3 } } } }, /^hilt\.config\.json: firmware\.scenarios\["MQTT Connect"\]\.retries: unknown field: .* takes boundMs, attempts$/],
    ['scenario settings that are a list', { firmware: { scenarios: [] } }, /^hilt\.config\.json: firmware\.scenarios: expected an object of scenario titles/],
  ];
  for (const [what, raw, message] of mistakes) {
    it(`refuses ${what}, in one line`, function () {
      let error: unknown;
      try {
        validateConfig(raw, 'hilt.config.json');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.match(message).and.not.include('\n');
    });
  }

  describe('loadConfig', function () {
    let dir: string;
    let remove: () => Promise<void>;
    before(async () => { ({ dir, remove } = await tempDir()); });
    after(() => remove());

    // Found by test/faults/fuzz.spec.ts: JSON.parse quotes the text around the mistake, line
    // breaks and escape sequences included, and the message went out as it was.
    for (const [what, text] of <Array<[string, string]>>[['a line break', 'repeat: 2\ntarget: emulator'], ['a NUL byte', '\u0000'], ['a terminal escape', '\u001b[2J{']]) {
      it(`a file that is not JSON, with ${what} near the mistake: one printable line`, async function () {
        const path = join(dir, 'hilt.config.json');
        await writeFile(path, text);
        const err = await rejection(loadConfig(path, true));
        expect(err).to.be.instanceOf(UsageError);
        expect(err.message).to.match(new RegExp(`^${path}: not valid JSON \\(.+\\): fix the file$`));
        expect(err.message).to.not.match(/[\p{Cc}\u2028\u2029]/u);
      });
    }
  });

  it('judges budgets with their operator and unit', function () {
    const rule = parseBudget('heap_peak_used', '< 48 KiB');
    expect(typeof rule).to.not.equal('string');
    if (typeof rule === 'string') return;
    expect(withinBudget(rule, 48 * 1024 - 1)).to.equal(true);
    expect(withinBudget(rule, 48 * 1024)).to.equal(false);
    const seconds = parseBudget('tls_ms', '<= 2 s');
    expect(typeof seconds !== 'string' && seconds.limit).to.equal(2000);
  });
});
