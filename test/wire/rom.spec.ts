import { expect } from 'chai';
import {
  OP, SYNC_DATA, checksum, decodeRequest, decodeResponse, encodeRequest, encodeResponse, opName, statusBytes,
} from '../../harness/wire/rom.ts';

describe('harness/wire/rom', function () {
  it('a SYNC request is byte for byte what esptool sends', function () {
    // esptool --trace: "c0 00 08 24 00 00 00 00 00 07 07 12 20 55 ... c0" (inside the SLIP frame).
    expect(encodeRequest(OP.SYNC, SYNC_DATA).toString('hex')).to.equal('000824000000000007071220' + '55'.repeat(32));
  });

  it('the ROM reply to READ_REG 0x40001000 decodes to the ESP32 magic (a real chip\'s trace)', function () {
    const reply = decodeResponse(Buffer.from('010a0400831df00000000000', 'hex'))!;
    expect(reply).to.deep.include({ op: OP.READ_REG, value: 0x00f01d83 });
    expect(reply.data.toString('hex')).to.equal('00000000');
    expect(encodeResponse(OP.READ_REG, 0x00f01d83, statusBytes('rom')).toString('hex')).to.equal('010a0400831df00000000000');
  });

  it('checksum: 0xEF XOR every data byte', function () {
    expect(checksum(Buffer.alloc(0))).to.equal(0xef);
    expect(checksum(Buffer.from([0xef]))).to.equal(0);
    expect(checksum(Buffer.from([1, 2, 4]))).to.equal(0xef ^ 7);
  });

  it('status bytes: the ROM\'s four (1, code, 0, 0 on failure), the stub\'s two (code, 0: esptool reads C1 00 as "Bad data checksum")', function () {
    expect(statusBytes('rom').toString('hex')).to.equal('00000000');
    expect(statusBytes('rom', 0x07).toString('hex')).to.equal('01070000');
    expect(statusBytes('stub').toString('hex')).to.equal('0000');
    expect(statusBytes('stub', 0xc1).toString('hex')).to.equal('c100');
  });

  it('a request that is not one says why', function () {
    expect(decodeRequest(Buffer.from([0, 8]))).to.equal('2 bytes: shorter than the 8-byte header');
    expect(decodeRequest(Buffer.from('0108000000000000', 'hex'))).to.equal('direction byte 0x1, not 0x00 (a request)');
    expect(decodeRequest(Buffer.from('000804000000000001', 'hex'))).to.equal('size field 4 but 1 data bytes');
    expect(opName(0x14)).to.equal('GET_SECURITY_INFO (0x14)');
    expect(opName(0x77)).to.equal('unknown (0x77)');
  });
});
