/**
 * The emulator against the library: every lab profile (tls.connect and mqtt.connect) and the other
 * connects of the wave-1 scenarios, on the emulated board and on the host agent over the real
 * Mbed TLS 3.6 (test/native/differential.ts). Each case passes when both devices reported, printed
 * and showed the broker the same, but for the differences KNOWN lists with their reason.
 * Skipped, with one line, without a C toolchain for -m32.
 */
import { needToolchain } from './toolchain.ts';
import { expect } from 'chai';
import { CASES, compareAll, KNOWN, type Row } from './differential.ts';

describe('native: the emulator against the real Mbed TLS, case by case', function () {
  this.timeout(900_000);
  let rows: Row[] = [];

  before(async function () {
    await needToolchain(this);
    const compared = await compareAll();
    if (!compared) {
      console.log('    (skipped: firmware/Makefile has no agent target)');
      this.skip();
    }
    rows = compared!;
  });

  for (const c of CASES) {
    it(c.name, function () {
      const row = rows.find((r) => r.case === c)!;
      const known = KNOWN[c.name] ?? {};
      const unexplained = Object.fromEntries(Object.entries(row.differences).filter(([field]) => !(field in known)));
      expect(unexplained, `native vs emulator (field: [native, emulator]), not in KNOWN`).to.deep.equal({});
      for (const field of Object.keys(known)) {
        expect(row.differences, `KNOWN lists ${field} for "${c.name}" but the two agree now: remove it`).to.have.property(field);
      }
    });
  }

  it('the SNI server saw SNI without skip_cn and none with it, from both devices', function () {
    const plain = rows.find((r) => r.case.name === 'SNI sent by default')!;
    const skip = rows.find((r) => r.case.name === 'SNI with skip_cn')!;
    expect([plain.native.sni, plain.emulator.sni]).to.deep.equal(['localhost', 'localhost']);
    expect([skip.native.sni, skip.emulator.sni]).to.deep.equal([null, null]);
  });
});
