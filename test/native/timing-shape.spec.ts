/**
 * The differential compares timing by its structure (test/native/differential.ts timingShape):
 * which phases a device reached and whether its figures hang together as docs/protocol.md
 * defines them. These cases check each rule can fail, without a toolchain.
 */
import { expect } from 'chai';
import { timingShape } from './differential.ts';

const t = (dns: number | null, tcp: number | null, tls: number | null, mqtt: number | null, total: number, source: 'device' | 'model' | 'host' = 'device') =>
  ({ dns_ms: dns, tcp_ms: tcp, tls_ms: tls, mqtt_ms: mqtt, total_ms: total, source });

describe('differential: the structure of a timing object', function () {
  it('names the phases reached, in order, whatever their values', function () {
    expect(timingShape(t(0, 1, 14, 1, 16))).to.deep.equal({ by: 'device', reached: ['dns', 'tcp', 'tls', 'mqtt'], consistent: true });
    expect(timingShape(t(0, 0.4, null, null, 0, 'model'))).to.deep.equal({ by: 'device', reached: ['dns', 'tcp'], consistent: true });
  });

  it('a timing the host measured has no phases and says so', function () {
    expect(timingShape(t(null, null, null, null, 87, 'host'))).to.deep.equal({ by: 'host', reached: [], consistent: true });
  });

  it('total_ms may round below the sum of the phases by under a millisecond', function () {
    expect(timingShape(t(0, 0.4, 14.4, null, 15)).consistent).to.equal(true);
  });

  for (const [what, timing, broken] of [
    ['a phase after one never reached', t(0, null, 14, null, 14), 'a phase reached after one that was not'],
    ['a negative phase', t(0, -1, 3, null, 3), 'a negative time'],
    ['a phase longer than the whole', t(0, 1, 40, null, 20), 'a phase longer than total_ms'],
    ['a total shorter than its phases', t(0, 10, 15, null, 20), 'total_ms shorter than its phases together'],
  ] as const) {
    it(`breaks on ${what}`, function () {
      expect(timingShape(timing).consistent).to.equal(broken);
    });
  }
});
