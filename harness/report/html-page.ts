/**
 * report.html's own style and script: hilt's text, embedded as is. The script reads the chart
 * data from the page, draws each chart with Chart.js (inlined before it), and makes the verdict
 * filter and the folding of details work. Without script the page shows everything, details
 * unfolded, but the charts.
 */

export const STYLE = `
:root { --pass: #238b45; --warn: #d98c00; --fail: #cb181d; --error: #6a51a3; --skipped: #737373; --line: #d9d9d9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1a1a1a; background: #fafafa; }
header, main { max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
header { background: #fff; border-bottom: 1px solid var(--line); max-width: none; }
header > * { max-width: 1152px; margin-left: auto; margin-right: auto; }
h1 { font-size: 22px; margin: 4px auto 8px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
dl.identity { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 16px; margin: 0 auto; }
dl.identity dt { color: #555; }
dl.identity dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.count { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--c); padding: 6px 14px; min-width: 110px; }
.count b { display: block; font-size: 22px; }
.verdict-pass { --c: var(--pass); } .verdict-warn { --c: var(--warn); } .verdict-fail { --c: var(--fail); }
.verdict-error { --c: var(--error); } .verdict-skipped { --c: var(--skipped); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; background: var(--c); font-size: 12px; font-weight: 600; white-space: nowrap; }
.alert { background: #fff4f4; border: 1px solid #f3b7b7; padding: 8px 12px; margin: 8px 0; }
.alert.note { background: #fffbea; border-color: #ead48a; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.filters { display: flex; gap: 6px; flex-wrap: wrap; margin: 8px 0; }
.filters button { border: 1px solid var(--line); background: #fff; padding: 3px 12px; border-radius: 14px; cursor: pointer; font: inherit; }
.filters button[aria-pressed="true"] { background: #1a1a1a; color: #fff; border-color: #1a1a1a; }
table.scenarios { table-layout: fixed; }
table.scenarios > thead > tr > th:not(:first-child) { width: 170px; }
table.scenarios > thead > tr > th.result, table.scenarios > thead > tr > th.time { width: 90px; }
table.scenarios > tbody > tr > td:first-child { overflow-wrap: anywhere; }
table.scenarios > tbody > tr.summary > td { border-bottom: none; }
table.scenarios > tbody > tr.details > td { padding-top: 0; }
button.toggle { border: none; background: none; padding: 0; font: inherit; text-align: left; cursor: pointer; color: inherit; }
button.toggle::before { content: "▾ "; color: #777; }
button.toggle[aria-expanded="false"]::before { content: "▸ "; }
details > summary { cursor: pointer; }
.detail { margin: 6px 0 4px 14px; }
.detail pre { background: #f6f6f6; border: 1px solid var(--line); padding: 6px 8px; overflow-x: auto; white-space: pre; max-height: 420px; }
pre.console .n { color: #999; user-select: none; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure.chart { margin: 0; background: #fff; border: 1px solid var(--line); padding: 8px 12px; }
figure.chart .plot { position: relative; height: 340px; }
figure.chart figcaption { color: #555; font-size: 12px; }
.findings li { margin: 4px 0; }
.muted { color: #666; }
.regressed { color: var(--fail); font-weight: 600; } .improved { color: var(--pass); font-weight: 600; }
`;

/**
 * Runs after Chart.js. Writes `data-hilt-ready` on <html> when it is done (and the error, if any)
 * so a headless browser, or a person, can tell a page that drew from one that did not.
 */
export const SCRIPT = `
(function () {
  'use strict';
  var root = document.documentElement;
  try {
    var specs = JSON.parse(document.getElementById('hilt-charts').textContent);
    specs.forEach(function (spec) {
      var canvas = document.getElementById(spec.id);
      if (canvas && window.Chart) new window.Chart(canvas, spec.config);
    });
    // Details of what passed fold away; a click on a scenario's title shows or hides them.
    Array.prototype.forEach.call(document.querySelectorAll('tbody.scenario'), function (body) {
      var toggle = body.querySelector('button.toggle');
      var details = body.querySelector('tr.details');
      var show = function (open) {
        details.hidden = !open;
        toggle.setAttribute('aria-expanded', String(open));
      };
      show(body.dataset.open === 'true');
      toggle.addEventListener('click', function () { show(details.hidden); });
    });
    var buttons = Array.prototype.slice.call(document.querySelectorAll('.filters button'));
    var rows = Array.prototype.slice.call(document.querySelectorAll('tbody.scenario'));
    var apply = function (wanted) {
      buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.filter === wanted)); });
      rows.forEach(function (row) {
        row.hidden = wanted !== 'all' && row.dataset.verdicts.split(' ').indexOf(wanted) === -1;
      });
    };
    buttons.forEach(function (b) { b.addEventListener('click', function () { apply(b.dataset.filter); }); });
    root.setAttribute('data-hilt-ready', window.Chart ? 'charts' : 'no-chart-library');
  } catch (err) {
    root.setAttribute('data-hilt-ready', 'error: ' + (err && err.message));
    throw err;
  }
})();
`;
