/** summary.md as a release manager pastes it: one heading, one verdict, one table. */
import { expect } from 'chai';
import { toSummaryMarkdown } from '../../harness/report/index.ts';
import { boardsRun, comparedRun, cutShortRun, metric, runResults, scenarios } from './fixtures.ts';

/** Table rows (header and separator excluded), each split into cells on unescaped pipes. */
function table(md: string): { tables: number; rows: string[][] } {
  const lines = md.split('\n');
  const tables = lines.filter((l) => /^\|(\s*:?-+:?\s*\|)+$/.test(l)).length;
  const start = lines.findIndex((l) => l.startsWith('| Scenario'));
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return { tables, rows };
}

describe('summary.md', function () {
  const md = toSummaryMarkdown(runResults());

  it('opens with firmware identity, target and date', function () {
    const first = md.split('\n')[0]!;
    expect(first).to.equal('# sensor-node 1.4.2 on emulator, 2026-11-23');
    expect(md).to.include('ESP-IDF v5.2.1').and.include('run `2026-11-23T02-51-07Z-3f9a`');
  });

  it('names the port a target by identity was found on, and no port for a target by path', function () {
    const byId = toSummaryMarkdown(runResults({ target: 'serial:?serial_number=0001', port: '/dev/ttyACM1' }));
    expect(byId.split('\n')[0]).to.equal('# sensor-node 1.4.2 on serial:?serial_number=0001, 2026-11-23');
    expect(byId).to.include('port `/dev/ttyACM1`');
    expect(md).to.not.include('port `');
  });

  it('gives the verdict on one line', function () {
    expect(md.split('\n')).to.include('**1 passed, 1 failed, 1 error, 1 skipped**');
  });

  it('has exactly one table with one row per scenario', function () {
    const { tables, rows } = table(md);
    expect(tables).to.equal(1);
    expect(rows.map((r) => r[0])).to.deep.equal(scenarios().map((s) => s.title));
    // (the first scenario ran 5 times: a p95 column)
    expect(rows.every((r) => r.length === 6)).to.equal(true);
    expect(rows.map((r) => r[1])).to.deep.equal(['✅ pass', '❌ fail', '⚠️ error', '⏭ skipped']);
  });

  it('shows device figures plainly and marks modelled ones with a footnote', function () {
    const [passed, failed, errored] = table(md).rows;
    expect(passed!.slice(2, 5)).to.deep.equal(['1210', '1250', '40.2']);
    expect(failed!.slice(2, 5)).to.deep.equal(['2450[^model]', '2450[^model]', '44.0[^model]']);
    expect(errored!.slice(2, 5)).to.deep.equal(['—', '—', '—']);
    expect(md).to.match(/^\[\^model\]: `model`: estimated/m);
    expect(md).to.not.include('[^host]');
    expect(md).to.include('Figures without a marker were measured by the firmware on the device');
  });

  it('notes the failure message and the broken budget, cells escaped', function () {
    const list = scenarios();
    list[1]!.failure = { kind: 'budget', message: 'too slow | way\ntoo slow <none>' };
    list[0]!.title = 'a|b';
    const { rows } = table(toSummaryMarkdown(runResults({}, list)));
    expect(rows).to.have.length(4);
    expect(rows.every((r) => r.length === 6)).to.equal(true);
    expect(rows[0]![0]).to.equal('a\\|b');
    expect(rows[1]![5]).to.equal('too slow \\| way<br>too slow &lt;none>; budget tls_ms <= 2000 exceeded: 2450');
    expect(rows[2]![5]).to.equal('device emulator: no reply to hello within 5000 ms');
  });

  it('drops console colour codes from notes', function () {
    const failed = table(md).rows[1]!;
    expect(failed[5]).to.equal(`handshake &lt;tls_ms> & "alert" 'bad_certificate'; budget tls_ms <= 2000 exceeded: 2450`);
  });

  it('marks host-measured figures with their own footnote', function () {
    const list = scenarios();
    list[0]!.metrics = [metric('tls_ms', 'host', [88.25, 90])];
    const hosted = toSummaryMarkdown(runResults({}, list));
    expect(table(hosted).rows[0]![2]).to.equal('89[^host]');
    expect(hosted).to.match(/^\[\^host\]: `host`: measured by the harness/m);
  });

  it('lists the settings that change outcomes', function () {
    expect(md).to.include('Settings that change outcomes: HAVE_TIME_DATE on · TLS 1.3 off · dynamic buffers on');
    const noTime = toSummaryMarkdown(runResults({ security: { have_time_date: false } }));
    expect(noTime).to.include('HAVE_TIME_DATE off · TLS 1.3 not reported · dynamic buffers not reported (certificate dates are not checked)');
  });

  it('says why a cut-short run stopped', function () {
    const cut = toSummaryMarkdown(cutShortRun());
    expect(cut).to.include('> ⚠️ Run cut short: device unreachable after 07-low-heap');
    expect(cut).to.include('> ⚠️ Infrastructure: device emulator: no reply to hello');
  });

  it('shows the run\'s warnings and the device notes made outside any scenario', function () {
    const noted = toSummaryMarkdown(runResults({
      warnings: ['root-current: key roots/current.key was mode 0644, open to others: set to 0600'],
      notes: ['device output: a console line ran over 65536 bytes'],
    }));
    expect(noted).to.include('> ⚠️ Warning: root-current: key roots/current.key was mode 0644, open to others: set to 0600');
    expect(noted).to.include('Device output outside any scenario:\n- device output: a console line ran over 65536 bytes');
    expect(md).to.not.include('Warning:');
    expect(md).to.not.include('outside any scenario');
  });

  it('shows a pass with warnings as "pass (N warnings)" and lists them under the table', function () {
    const list = scenarios();
    list[0]!.warnings = ['offers non-recommended suites: TLS-RSA-WITH-AES-128-CBC-SHA | CBC', 'strictly exponential backoff (no jitter)'];
    const warned = toSummaryMarkdown(runResults({}, list));
    const { tables, rows } = table(warned);
    expect(tables).to.equal(1);
    expect(rows[0]![1]).to.equal('✅ pass (2 warnings)');
    expect(rows.slice(1).map((r) => r[1])).to.deep.equal(['❌ fail', '⚠️ error', '⏭ skipped']);
    expect(warned).to.include('Warnings:\n- connects to a valid server: offers non-recommended suites: TLS-RSA-WITH-AES-128-CBC-SHA | CBC\n'
      + '- connects to a valid server: strictly exponential backoff (no jitter)');
    list[0]!.warnings = ['one'];
    expect(table(toSummaryMarkdown(runResults({}, list))).rows[0]![1]).to.equal('✅ pass (1 warning)');
    expect(md).to.not.include('Warnings:');
  });

  it('says how long the run took and how many repetitions each scenario had', function () {
    expect(md).to.include('Duration 14.1 s · 5 repetitions per scenario');
    expect(toSummaryMarkdown(runResults({ repeat: 1 }, [scenarios()[1]!]))).to.include('Duration 14.1 s · 1 repetition per scenario');
  });

  it('has no p95 column when nothing was repeated', function () {
    const single = toSummaryMarkdown(runResults({}, scenarios().slice(1)));
    expect(single).to.include('| Scenario | Result | TLS ms (median) | Heap peak (KiB) | Note |');
    expect(md).to.include('| Scenario | Result | TLS ms (median) | TLS ms (p95) | Heap peak (KiB) | Note |');
  });

  it('lists the boards and gives each result its board', function () {
    const boards = toSummaryMarkdown(boardsRun());
    // The heading names every board's target (the run's own target field only joins them for reading).
    expect(boards.split('\n')[0]).to.equal('# sensor-node 1.4.2 on emulator:, serial:/dev/ttyUSB1, 2026-11-23');
    expect(boards).to.include('- b2: serial:/dev/ttyUSB1 (/dev/ttyUSB1), device esp32-000001-b2, sensor-node 1.4.2 — unreachable: device serial:/dev/ttyUSB1 went away (disconnected)');
    const { rows } = table(boards);
    expect(rows.map((r) => `${r[0]} ${r[1]}`)).to.deep.equal(['connects to a valid server b1', 'connects to a valid server b2',
      'handshake within budget b1', 'refuses cleanly when the heap is low b2', 'TLS 1.3 only listener b1']);
  });

  it('says what changed since the baseline', function () {
    const compared = toSummaryMarkdown(comparedRun());
    expect(compared).to.include('## Compared with sensor-node 1.4.1 (2026-11-01)');
    expect(compared).to.include('**2 regressions** against run `2026-11-01T10-00-00Z-aaaa`');
    expect(compared).to.include('- handshake within budget: passed → failed (regression)');
    expect(compared).to.include('| handshake within budget | tls_ms | 1900 ms | 2470 ms | +570 ms (+30 %) | 60 | regressed |');
    expect(compared).to.include('| connects to a valid server | heap_peak_used | 43000 B | 41208 B | -1792 B (-4.2 %) | 200 | improved |');
    expect(compared).to.include('1 figure within its noise band.');
    expect(md).to.not.include('Compared with');
  });

  it('lists the security findings', function () {
    const list = scenarios();
    list[0]!.notes = ['host name check skipped (skip_cn=1): the device accepted a certificate issued for another host'];
    const found = toSummaryMarkdown(runResults({ security: { have_time_date: false } }, list));
    expect(found).to.include('Security findings:\n- ❌ Certificate dates are not checked: MBEDTLS_HAVE_TIME_DATE is off');
    expect(found).to.include('- ⚠️ Host-name check skipped: 01-valid-server: host name check skipped (skip_cn=1)');
    expect(md).to.not.include('Security findings');
  });

  it('still reads when the device never said hello', function () {
    const none = toSummaryMarkdown(runResults({ firmware: null, security: null }, []));
    expect(none.split('\n')[0]).to.equal('# run 2026-11-23T02-51-07Z-3f9a on emulator, 2026-11-23');
    expect(none).to.include('**0 passed, 0 failed, 0 errors, 0 skipped**');
    expect(none).to.include('Settings that change outcomes: unknown');
    expect(table(none).tables).to.equal(1);
  });
});
