/** junit.xml as a CI server reads it: well-formed, counted right, failures apart from errors. */
import { expect } from 'chai';
import { toJUnitXml } from '../../harness/report/index.ts';
import { all, parseXml, propertiesOf, type XmlElement } from './xml.ts';
import { allVerdicts, boardsRun, comparedRun, cutShortRun, NASTY_MESSAGE, runResults, scenarios, XSS } from './fixtures.ts';

const testcase = (root: XmlElement, name: string) => {
  const found = all(root, 'testcase').find((t) => t.attrs.name === name);
  if (!found) throw new Error(`no testcase ${name}`);
  return found;
};
const childNames = (el: XmlElement) => el.children.map((c) => c.name);

describe('junit.xml', function () {
  const xml = toJUnitXml(runResults());
  const root = parseXml(xml);

  it('is well-formed XML with the testsuites > testsuite > testcase shape', function () {
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).to.equal(true);
    expect(root.name).to.equal('testsuites');
    expect(root.children.map((c) => c.name)).to.deep.equal(['testsuite']);
    expect(all(root, 'testcase')).to.have.length(4);
  });

  it('counts tests, failures, errors and skipped on both levels', function () {
    const suite = root.children[0]!;
    for (const el of [root, suite]) {
      expect(el.attrs).to.include({ tests: '4', failures: '1', errors: '1', skipped: '1', time: '14.136' });
      expect(el.attrs.timestamp).to.equal('2026-11-23T02:51:07');
    }
    expect(root.attrs.name).to.equal('hilt');
    expect(suite.attrs.name).to.equal('hilt emulator');
  });

  it('puts a broken budget in <failure> and a broken lab in <error>', function () {
    const failed = testcase(root, 'handshake within budget');
    expect(childNames(failed)).to.include('failure').and.not.include('error');
    const failure = failed.children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.type).to.equal('budget');
    expect(failure.text).to.equal('tls_ms <= 2000\nmeasured: 2450 ms\n');

    const errored = testcase(root, 'refuses cleanly when the heap is low');
    expect(childNames(errored)).to.include('error').and.not.include('failure');
    const error = errored.children.find((c) => c.name === 'error')!;
    expect(error.attrs).to.include({ type: 'infrastructure', message: 'device emulator: no reply to hello within 5000 ms' });

    expect(childNames(testcase(root, 'TLS 1.3 only listener'))).to.deep.equal(['properties', 'skipped']);
    expect(childNames(testcase(root, 'connects to a valid server'))).to.deep.equal(['properties', 'system-out']);
  });

  it('names each testcase by file stem and title, with seconds to 3 decimals', function () {
    const passed = testcase(root, 'connects to a valid server');
    expect(passed.attrs).to.include({ classname: '01-valid-server', time: '6.423' });
    expect(testcase(root, 'TLS 1.3 only listener').attrs.time).to.equal('0.000');
  });

  it('carries the port a target by identity was found on', function () {
    const withPort = parseXml(toJUnitXml(runResults({ target: 'serial:?vid=303a&pid=1001', port: '/dev/ttyACM0' })));
    expect(propertiesOf(withPort.children[0]!)).to.include({ target: 'serial:?vid=303a&pid=1001', port: '/dev/ttyACM0' });
    expect(propertiesOf(root.children[0]!)).to.not.have.property('port');
  });

  it('carries the run identity, flattened security settings and fingerprints as suite properties', function () {
    const props = propertiesOf(root.children[0]!);
    expect(props).to.include({
      'hilt.version': '0.1.0',
      target: 'emulator',
      'run.id': '2026-11-23T02-51-07Z-3f9a',
      'firmware.project': 'sensor-node',
      'firmware.version': '1.4.2',
      'firmware.idf': 'v5.2.1',
      'firmware.agent': 'hilt-agent 1.0.0',
      'firmware.chip': 'ESP32 rev3',
      'firmware.mac': '24:0a:c4:00:00:01',
      'security.have_time_date': 'true',
      'security.tls13': 'false',
      'security.dynamic_buffer': 'true',
      'security.ciphersuites': 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256,TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256',
      'trust.root-ca.sha256': 'aa11',
      'served.valid.server-valid.sha256': 'bb22',
    });
    // The emulator does not know its ELF hash: left out rather than written empty.
    expect(props).to.not.have.property('firmware.elf_sha256');
    expect(props).to.not.have.property('run.cut_short');
  });

  it('writes the ELF hash when the firmware knows it', function () {
    const run = runResults();
    run.run.firmware!.elfSha256 = 'c0ffee';
    expect(propertiesOf(parseXml(toJUnitXml(run)).children[0]!)['firmware.elf_sha256']).to.equal('c0ffee');
  });

  it('gives every metric its median, p95, source and budget as testcase properties', function () {
    const passed = propertiesOf(testcase(root, 'connects to a valid server'));
    expect(passed).to.include({
      'tls_ms.median': '1210', 'tls_ms.p95': '1250', 'tls_ms.source': 'device', 'tls_ms.unit': 'ms',
      'heap_peak_used.median': '41208', 'heap_peak_used.unit': 'B', repetitions: '5', id: '01-valid-server',
    });
    const failed = propertiesOf(testcase(root, 'handshake within budget'));
    expect(failed).to.include({ 'tls_ms.source': 'model', 'tls_ms.budget': 'tls_ms <= 2000 (measured 2450: exceeded)' });
  });

  it('points system-out at the console log', function () {
    const out = testcase(root, 'connects to a valid server').children.find((c) => c.name === 'system-out')!;
    expect(out.text).to.equal('console log: console/01-valid-server.log');
  });

  it('escapes <&"\' and replaces control characters XML 1.0 cannot carry', function () {
    // The raw ESC byte must not reach the file at all, not even as &#27; (also illegal).
    expect(xml).to.not.match(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
    expect(xml).to.not.include('&#27;');
    const failure = testcase(root, 'handshake within budget').children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).to.equal(NASTY_MESSAGE.replace('\u001b', '\\x1b'));
    expect(xml).to.include('message="handshake &lt;tls_ms&gt; &amp; &quot;alert&quot; &apos;bad_certificate&apos; \\x1b[0;31m"');
  });

  it('keeps a multi-line message and odd characters intact in attributes and text', function () {
    const list = scenarios();
    list[1]!.failure = { kind: 'assertion', message: 'line one\nline two\ttab ]]> end', detail: 'a\u0000b \uD800 lone surrogate, 😀 kept' };
    list[1]!.title = 'title with <angle> & "quotes"';
    const parsed = parseXml(toJUnitXml(runResults({}, list)));
    const failure = testcase(parsed, 'title with <angle> & "quotes"').children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).to.equal('line one\nline two\ttab ]]> end');
    expect(failure.text).to.equal('a\\x00b \\ud800 lone surrogate, 😀 kept');
  });

  it('says why a cut-short run stopped, in properties and suite output', function () {
    const suite = parseXml(toJUnitXml(cutShortRun())).children[0]!;
    expect(propertiesOf(suite)).to.include({
      'run.cut_short': 'device unreachable after 07-low-heap: remaining 8 scenarios not run',
      'run.infrastructure_error': 'device emulator: no reply to hello within 5000 ms',
    });
    expect(suite.children.find((c) => c.name === 'system-err')!.text).to.include('no reply to hello');
  });

  it('lists the run\'s warnings and device notes as numbered properties', function () {
    const suite = parseXml(toJUnitXml(runResults({ warnings: ['root-current: key was mode 0644'], notes: ['device output: a long line', 'device output: garbled'] }))).children[0]!;
    expect(propertiesOf(suite)).to.include({
      'run.warning.1': 'root-current: key was mode 0644',
      'run.note.1': 'device output: a long line',
      'run.note.2': 'device output: garbled',
    });
    expect(propertiesOf(parseXml(toJUnitXml(runResults())).children[0]!)).to.not.have.property('run.warning.1');
  });

  it('gives a scenario that passed with warnings one warning property each, and the warnings in system-out', function () {
    const list = scenarios();
    list[0]!.warnings = ['device sent a TLS warning alert (close_notify)', 'offers CBC suites: <TLS_RSA_WITH_AES_128_CBC_SHA> & more'];
    const passed = testcase(parseXml(toJUnitXml(runResults({}, list))), 'connects to a valid server');
    const props = passed.children.find((c) => c.name === 'properties')!.children;
    expect(props.filter((p) => p.attrs.name === 'warning').map((p) => p.attrs.value)).to.deep.equal(list[0]!.warnings);
    // Still a pass: no failure element, the warnings readable in the test's output.
    expect(childNames(passed)).to.deep.equal(['properties', 'system-out']);
    const out = passed.children.find((c) => c.name === 'system-out')!.text;
    expect(out).to.equal(`warning: ${list[0]!.warnings[0]}\nwarning: ${list[0]!.warnings[1]}\nconsole log: console/01-valid-server.log`);
    expect(props.filter((p) => p.attrs.name === 'warning')).to.have.length(2);
    expect(all(parseXml(xml), 'property').filter((p) => p.attrs.name === 'warning')).to.deep.equal([]);
  });

  it('writes a run with no firmware and no scenarios as an empty, valid suite', function () {
    const parsed = parseXml(toJUnitXml(runResults({ firmware: null, security: null }, [])));
    expect(parsed.attrs).to.include({ tests: '0', failures: '0', errors: '0', skipped: '0' });
    expect(Object.keys(propertiesOf(parsed.children[0]!)).filter((k) => k.startsWith('firmware.') || k.startsWith('security.'))).to.deep.equal([]);
  });

  it('says why a scenario was skipped: the run\'s reason, or the one the scenario gave', function () {
    const list = allVerdicts();
    const skipped = (l: typeof list) => all(parseXml(toJUnitXml(runResults({}, l))), 'skipped')[0]!.attrs.message;
    expect(skipped(list)).to.equal('not run: --bail after 05-handshake-budget failed');
    list[3]!.failure = null;
    list[3]!.notes = ['skipped: the lab has no TLS 1.3 listener'];
    expect(skipped(list)).to.equal('the lab has no TLS 1.3 listener');
  });

  it('puts the console excerpt after a failure\'s detail, escaped', function () {
    const list = scenarios();
    list[1]!.console = { firstLine: 40, lines: ['[   0.021] E (19) esp-tls: Failed to open new connection', `[   0.022] E (20) app: ${XSS}`], reason: 'E lines' };
    const failure = all(parseXml(toJUnitXml(runResults({}, list))), 'failure')[0]!;
    expect(failure.text).to.equal(`tls_ms <= 2000\nmeasured: 2450 ms\n\n\nconsole, lines 40-41 of console/05-handshake-budget.log (E lines):\n${list[1]!.console.lines.join('\n')}`);
  });

  it('carries the comparison with the baseline: suite properties, and each test case\'s own changes', function () {
    const parsed = parseXml(toJUnitXml(comparedRun()));
    expect(propertiesOf(parsed.children[0]!)).to.include({
      'comparison.baseline.run_id': '2026-11-01T10-00-00Z-aaaa',
      'comparison.baseline.firmware': 'sensor-node 1.4.1',
      'comparison.regressions': '2',
      'comparison.outcome.05-handshake-budget': 'passed -> failed (regression)',
      'comparison.outcome.11-new-scenario': 'passed -> absent',
      'comparison.05-handshake-budget.tls_ms': '1900 -> 2470 ms (+570, +30 %; noise 60): regressed',
      'comparison.01-valid-server.heap_peak_used': '43000 -> 41208 B (-1792, -4.2 %; noise 200): improved',
      'run.repeat': '5',
    });
    // Within the noise: on its test case, not among the suite's changes.
    expect(propertiesOf(parsed.children[0]!)).to.not.have.property('comparison.01-valid-server.tls_ms');
    expect(propertiesOf(testcase(parsed, 'connects to a valid server'))).to.include({ 'tls_ms.baseline': '1200 -> 1210 ms (+10, +0.8 %; noise 35): unchanged' });
    expect(propertiesOf(testcase(parsed, 'handshake within budget'))).to.include({ 'baseline.outcome': 'passed' });
  });

  it('makes each board\'s result a test case of its own, and lists the boards', function () {
    const parsed = parseXml(toJUnitXml(boardsRun()));
    expect(parsed.children[0]!.attrs.name).to.equal('hilt emulator:, serial:/dev/ttyUSB1');
    const names = all(parsed, 'testcase').map((t) => t.attrs.name);
    expect(names).to.deep.equal(['connects to a valid server [b1]', 'connects to a valid server [b2]', 'handshake within budget [b1]',
      'refuses cleanly when the heap is low [b2]', 'TLS 1.3 only listener [b1]']);
    expect(propertiesOf(testcase(parsed, 'connects to a valid server [b2]'))).to.include({ board: 'b2' });
    expect(propertiesOf(parsed.children[0]!)).to.include({
      'board.b1.target': 'emulator:', 'board.b2.device_id': 'esp32-000001-b2',
      'board.b2.infrastructure_error': 'device serial:/dev/ttyUSB1 went away (disconnected)',
    });
  });

  it('the checker itself refuses malformed XML', function () {
    expect(() => parseXml('<a>&</a>')).to.throw(/bare &/);
    expect(() => parseXml('<a><b></a></b>')).to.throw(/closes/);
    expect(() => parseXml('<a x="1" x="2"/>')).to.throw(/duplicate/);
    expect(() => parseXml('<a>\u001b</a>')).to.throw(/not allowed/);
    expect(() => parseXml('<a>&#27;</a>')).to.throw(/forbids/);
    expect(() => parseXml('<a x="<"/>')).to.throw(/attribute/);
    expect(() => parseXml('<a/><b/>')).to.throw(/after the root/);
  });
});
