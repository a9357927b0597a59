import { expect, expectDeviceCertificateRefused, scenario } from '../harness/index.ts';

describe('13 device certificate expired', () => {
  scenario('the broker refuses an expired device certificate; the device surfaces the failed handshake', async (ctx) => {
    const result = await ctx.connect('good', { identity: 'client-expired' });
    if (expectDeviceCertificateRefused(ctx, result) === 'handshake') {
      // The broker ends the connection: EOF, a reset, or an alert, depending on its TLS stack.
      expect(result.error!.stack_err_name).to.be.oneOf(['MBEDTLS_ERR_SSL_CONN_EOF', 'MBEDTLS_ERR_NET_CONN_RESET', 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE']);
    }
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('good');
    expect(attempt.tls).to.include({ outcome: 'refused', reason: 'CERT_HAS_EXPIRED' });
  });
});
