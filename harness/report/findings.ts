/**
 * Security findings: what a run showed about the firmware's TLS that a release manager must see
 * in one place, whichever scenario it came from. Read from the results only: the settings the
 * device reported in hello (`run.security`), and the failures, warnings and notes of scenarios,
 * matched by the words hilt's own scenarios and verdict rules use (RULES). A rule is data: a
 * new finding is one entry.
 */
import { suiteClass } from '../firmware/verdicts.ts';
import { resultKey, type RunResults } from './model.ts';

/** fail: the firmware does something unsafe; warn: it works but is weaker than it should be. */
export type Severity = 'fail' | 'warn';

export interface Finding {
  severity: Severity;
  title: string;
  /** What was seen: one line each, with the scenario it came from (its result key) if any. */
  evidence: Array<{ key: string | null; text: string }>;
}

interface Rule {
  severity: Severity;
  title: string;
  /** Tested against a scenario's failure message, warnings and notes. */
  pattern: RegExp;
  /** Only in a failed scenario's failure message (a note may say the same of a deliberate test). */
  failureOnly?: boolean;
}

const RULES: readonly Rule[] = [
  { severity: 'fail', title: 'A certificate was accepted that must be refused', pattern: /\baccepted (an? |the )?[^:]*certificate|expected the device to refuse .* but it connected/i, failureOnly: true },
  { severity: 'warn', title: 'Host-name check skipped', pattern: /host ?name check skipped|skip_cn=1/i },
  { severity: 'fail', title: 'Forbidden cipher suites offered', pattern: /forbidden suite|no recommended suite/i },
  { severity: 'warn', title: 'Weak cipher suites offered', pattern: /non-recommended suite|CBC suite|only CBC suites/i },
  { severity: 'warn', title: 'No alert on a refused certificate', pattern: /should send a fatal alert/i },
  { severity: 'warn', title: 'A TLS warning alert where none belongs', pattern: /but the device sent a .*alert/i },
];

/** At most this many suites are named in one finding; the count says how many there are. */
const SHOWN_SUITES = 6;

export function securityFindings(results: RunResults): Finding[] {
  const found = new Map<string, Finding>();
  const add = (severity: Severity, title: string, key: string | null, text: string) => {
    const f = found.get(title) ?? { severity, title, evidence: [] };
    if (!f.evidence.some((e) => e.key === key && e.text === text)) f.evidence.push({ key, text });
    found.set(title, f);
  };
  const security = results.run.security;
  if (security?.have_time_date === false) {
    add('fail', 'Certificate dates are not checked', null,
      'MBEDTLS_HAVE_TIME_DATE is off (hello): an expired or not-yet-valid server certificate is accepted');
  }
  const suites = Array.isArray(security?.ciphersuites) ? security.ciphersuites.filter((s): s is string => typeof s === 'string') : [];
  const byClass = (c: string) => suites.filter((s) => suiteClass({ id: 0, name: s.replace(/-/g, '_') }) === c);
  const forbidden = byClass('forbidden');
  const weak = byClass('non-recommended');
  if (forbidden.length) add('fail', 'Forbidden cipher suites offered', null, `the build enables ${suiteList(forbidden)} (hello)`);
  if (weak.length) add('warn', 'Weak cipher suites offered', null, `the build enables ${suiteList(weak)} (CBC, static RSA/ECDH, DHE or PSK; hello)`);
  for (const s of results.scenarios) {
    const failure = s.outcome === 'failed' && s.failure ? s.failure.message : null;
    const texts = [...(failure ? [failure] : []), ...(s.warnings ?? []), ...(s.notes ?? [])];
    for (const text of texts) {
      for (const rule of RULES) {
        if ((!rule.failureOnly || text === failure) && rule.pattern.test(text)) add(rule.severity, rule.title, resultKey(s), text);
      }
    }
  }
  // Failures first, then in the order found.
  return [...found.values()].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'fail' ? -1 : 1));
}

function suiteList(suites: string[]): string {
  const shown = suites.slice(0, SHOWN_SUITES).join(', ');
  return `${suites.length} suite${suites.length === 1 ? '' : 's'}: ${shown}${suites.length > SHOWN_SUITES ? ` and ${suites.length - SHOWN_SUITES} more` : ''}`;
}
