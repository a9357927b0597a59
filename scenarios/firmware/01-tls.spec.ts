/**
 * Device Advisor's TLS tests, and hilt's CA rotation drill and weak-suite audit: what the device
 * offers in its ClientHello, and whether it refuses the certificates it must refuse. Each waits on
 * the endpoint's records, never on a clock.
 */
import {
  decide, firmwareScenario, judgeCipherSuites, judgeHandshake, judgeRefusal, judgeWeakSuites, sessions, type Attempt,
} from '../../harness/index.ts';

/** The first attempt whose TLS outcome is known (or that closed before TLS). */
const settled = <A extends Attempt>(as: A[]) => as.find((a) => a.tls?.outcome || a.closed);

firmwareScenario('TLS Connect', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await decide(ctx, 'a TLS handshake', (as) => { const a = settled(as); return a && judgeHandshake(a); });
});

firmwareScenario('TLS Cipher Suites', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  await decide(ctx, 'a ClientHello and its handshake', (as) => {
    const a = settled(as);
    if (!a) return undefined;
    if (!a.clientHello) return { verdict: 'fail', reason: 'no ClientHello was recorded for the first attempt' };
    const offered = judgeCipherSuites(a.clientHello);
    // "No suite the endpoint accepts" shows as a handshake that failed on the suites.
    if (offered.verdict !== 'fail' && a.tls?.outcome === 'failed' && /cipher|no shared/i.test(a.tls.reason ?? '')) {
      return { verdict: 'fail', reason: `offers no suite the endpoint accepts (${a.tls.reason}); ${offered.reason}` };
    }
    return offered;
  });
});

firmwareScenario('TLS Weak Cipher Suites (hilt)', {
  // Only CBC suites, TLS 1.2: a device that insists on AEAD refuses; one that takes CBC warns.
  endpoint: { tls: { server: 'server-valid', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA' } },
}, async (ctx) => {
  await decide(ctx, 'a handshake against CBC-only suites', (as) => { const a = settled(as); return a && judgeWeakSuites(a); });
});

firmwareScenario('TLS Large Server Certificate', { endpoint: { tls: { server: 'server-large' } } }, async (ctx) => {
  // Mbed TLS reassembles the Certificate message in its IN buffer: the whole chain must fit there.
  const hint = ': Mbed TLS must hold the whole Certificate message (this chain: near 16 KB) in its IN buffer; build with CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=16384 (the default and maximum on ESP-IDF)';
  await decide(ctx, 'a TLS handshake with a chain near 16 KB', (as) => { const a = settled(as); return a && judgeHandshake(a, hint); });
});

const refusal = (title: string, server: string, what: string, alertExpected: boolean) =>
  firmwareScenario(title, { endpoint: { tls: { server } } }, async (ctx) => {
    await decide(ctx, `the device to refuse ${what}`, (as) => {
      const a = as.find((x) => x.closed || x.tls?.outcome === 'ok' || x.tls?.outcome === 'refused' || (x.packets ?? []).length > 0);
      return a && judgeRefusal(a, what, alertExpected);
    });
  });
refusal('TLS Untrusted Server Certificate', 'server-rogue', 'a certificate from an untrusted root', false);
refusal('TLS Wrong Host Name', 'server-wrong-host', 'a certificate for another host name', false);
refusal('TLS Expired Server Certificate', 'server-expired', 'an expired certificate', true);
refusal('TLS Not Yet Valid Server Certificate', 'server-not-yet-valid', 'a certificate that is not yet valid', true);

firmwareScenario('TLS CA Rotation', { endpoint: { tls: { server: 'server-valid' } } }, async (ctx) => {
  const first = await ctx.until('an MQTT session under the current root', (as) => sessions(as)[0]);
  // The broker moves to a chain under the next root, and drops the device to make it reconnect.
  ctx.endpoint.serve({ tls: { server: 'server-next' } });
  ctx.endpoint.dropAll('CA rotation: the broker now serves a chain under the next root');
  await decide(ctx, 'a reconnect to the next root\'s chain', (as, final) => {
    const later = as.filter((a) => a.id > first.id);
    const a = later.find((x) => x.tls?.outcome || x.closed);
    if (!a) return final ? { verdict: 'fail', reason: `did not come back within ${ctx.bound} ms after the broker moved to the next root (${later.length} attempts)` } : undefined;
    if (a.tls?.outcome === 'ok' && sessions([a]).length) return { verdict: 'pass', reason: `reconnected to the next root's chain (${a.tls.protocol}, ${a.tls.cipher}) and got its session` };
    if (a.tls?.outcome === 'ok' && !a.closed) return undefined;
    const why = a.alert ? `${a.alert.level} alert ${a.alert.name}` : a.tls?.reason ?? a.closed?.reason ?? 'no session';
    return { verdict: 'fail', reason: `could not connect once the broker moved to the next root (${why}): its trust store lacks the next root; build it with the transition bundle (both roots; ca.pem from \`hilt endpoint\`)` };
  });
});
