import { expect, expectDeviceCertificateRefused, scenario } from '../harness/index.ts';

describe('14 device certificate from an unknown CA', () => {
  scenario('the broker cannot verify the device certificate and refuses; the device fails', async (ctx) => {
    const result = await ctx.connect('good', { identity: 'client-rogue' });
    expectDeviceCertificateRefused(ctx, result);
    await ctx.checkHeapReturned(result);
    const attempt = await ctx.attempt('good');
    expect(attempt.tls).to.include({ outcome: 'refused' });
    expect(attempt.tls!.reason).to.match(/UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/);
  });
});
