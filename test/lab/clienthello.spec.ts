/**
 * The ClientHello reader against real hellos: each captured off a socket from `openssl s_client`
 * (with the options a firmware's settings map to) or Node's tls.connect, then the reader's answers
 * to broken, split and foreign bytes, and a fuzz that nothing it is given makes it throw.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createServer, type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { HELLO_READ_LIMIT, parseClientHello, type ClientHelloRecord } from '../../harness/lab/clienthello.ts';
import { listedSuites } from '../../harness/lab/tls-names.ts';
import { run } from '../helpers.ts';

/** The raw bytes a client sends first, read off a real socket until they make a whole ClientHello. */
async function capture(connect: (port: number) => Promise<unknown>): Promise<Buffer> {
  let got!: (b: Buffer) => void;
  const bytes = new Promise<Buffer>((resolve) => { got = resolve; });
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (parseClientHello(buf) !== null) {
        got(buf);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const client = connect((server.address() as AddressInfo).port);
    const result = await Promise.race([bytes, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no ClientHello within 10 s')), 10_000))]);
    await client;
    return result;
  } finally {
    server.close();
  }
}

const sClient = (args: string[]) => (port: number) => run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { input: '', timeoutMs: 10_000 });

function nodeClient(options: tls.ConnectionOptions) {
  return (port: number) => new Promise<void>((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

async function hello(connect: (port: number) => Promise<unknown>): Promise<ClientHelloRecord> {
  const record = parseClientHello(await capture(connect));
  expect(record, 'a complete ClientHello').to.not.equal(null);
  expect(record!.error).to.equal(null);
  expect(record!.ok).to.equal(true);
  return record!;
}

const names = (r: ClientHelloRecord) => r.cipherSuites.map((s) => s.name);

describe('ClientHello reader', function () {
  describe('real hellos', function () {
    it('openssl s_client, defaults (TLS 1.3 and 1.2 offered)', async function () {
      const r = await hello(sClient(['-servername', 'broker.example']));
      expect(r.legacyVersion).to.equal('TLS 1.2');
      expect(r.supportedVersions.slice(0, 2)).to.deep.equal(['TLS 1.3', 'TLS 1.2']);
      expect(names(r).slice(0, 3)).to.deep.equal(['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256']);
      expect(names(r)).to.include('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384').and.include('TLS_EMPTY_RENEGOTIATION_INFO_SCSV');
      expect(names(r).filter((n) => n.startsWith('0x')), 'every suite OpenSSL offers is named').to.deep.equal([]);
      expect(r.sni).to.equal('broker.example');
      expect(r.groups).to.include('x25519').and.include('secp256r1');
      expect(r.signatureAlgorithms).to.include('ecdsa_secp256r1_sha256').and.include('rsa_pss_rsae_sha256');
      expect(r).to.include({ sessionTicket: true, pskOffered: false, maxFragmentLength: null });
      expect(r.alpn).to.deep.equal([]);
      expect(r.bytes).to.be.within(200, 2000);
    });

    it('openssl s_client -tls1_2 -cipher: exactly the suites asked for, in that order', async function () {
      const r = await hello(sClient(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA', '-noservername']));
      expect(r.legacyVersion).to.equal('TLS 1.2');
      expect(r.supportedVersions).to.deep.equal([]);
      expect(r.cipherSuites).to.deep.equal([
        { id: 0xc02b, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256' },
        { id: 0x002f, name: 'TLS_RSA_WITH_AES_128_CBC_SHA' },
        { id: 0x00ff, name: 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV' },
      ]);
      expect(r.sni).to.equal(null);
    });

    it('openssl s_client -alpn -maxfraglen -groups -sigalgs', async function () {
      const r = await hello(sClient([
        '-servername', 'localhost', '-alpn', 'mqtt,x-amzn-mqtt-ca', '-maxfraglen', '2048',
        '-groups', 'P-384:X25519', '-sigalgs', 'ECDSA+SHA256:RSA-PSS+SHA256',
      ]));
      expect(r.alpn).to.deep.equal(['mqtt', 'x-amzn-mqtt-ca']);
      expect(r.maxFragmentLength).to.equal(2048);
      expect(r.groups).to.deep.equal(['secp384r1', 'x25519']);
      expect(r.signatureAlgorithms).to.deep.equal(['ecdsa_secp256r1_sha256', 'rsa_pss_rsae_sha256']);
    });

    it('openssl s_client -tls1_3 -ciphersuites: TLS 1.3 only', async function () {
      const r = await hello(sClient(['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256']));
      expect(r.supportedVersions).to.deep.equal(['TLS 1.3']);
      expect(names(r)).to.deep.equal(['TLS_AES_128_GCM_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV']);
    });

    it("Node's tls.connect", async function () {
      const r = await hello(nodeClient({
        servername: 'device.lab', ALPNProtocols: ['mqtt'], maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-SHA384',
      }));
      expect(r.sni).to.equal('device.lab');
      expect(r.alpn).to.deep.equal(['mqtt']);
      expect(names(r)).to.deep.equal([
        'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV',
      ]);
    });

    it('the suite table agrees with OpenSSL on every suite both know', async function () {
      const { stdout } = await run('openssl', ['ciphers', '-V', '-stdname', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
      const rows = [...stdout.matchAll(/0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)/g)];
      expect(rows.length).to.be.above(50);
      let compared = 0;
      for (const [, hi, lo, name] of rows) {
        const ours = listedSuites().get(parseInt(`${hi}${lo}`, 16));
        if (ours === undefined) continue;
        expect(ours, `0x${hi}${lo}`).to.equal(name);
        compared++;
      }
      expect(compared).to.be.above(50);
    });
  });

  describe('split, short and foreign bytes', function () {
    let wire: Buffer;
    before(async function () { wire = await capture(sClient(['-servername', 'localhost'])); });

    it('a hello split over two records reads the same as in one', function () {
      const body = wire.subarray(5);
      const cut = 100;
      const record = (part: Buffer) => Buffer.concat([Buffer.from([22, 3, 1, part.length >> 8, part.length & 0xff]), part]);
      const split = Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
      const one = parseClientHello(wire)!;
      const two = parseClientHello(split)!;
      expect(two).to.deep.equal({ ...one, bytes: one.bytes + 5 });
      expect(parseClientHello(split.subarray(0, 105 + 20))).to.equal(null);
    });

    it('a short hello waits for more, and when the device stops is "truncated: N of M bytes"', function () {
      expect(parseClientHello(wire.subarray(0, 40))).to.equal(null);
      expect(parseClientHello(wire.subarray(0, 40), true)).to.include({ ok: false, error: `truncated: 40 of ${wire.length} bytes`, bytes: 40 });
      expect(parseClientHello(wire.subarray(0, 3), true)!.error).to.equal(`truncated: 3 of 5 bytes`);
      expect(parseClientHello(Buffer.alloc(0), true)!.error).to.match(/^no bytes/);
    });

    it('names what came instead of TLS', function () {
      const cases: Array<[Buffer, RegExp]> = [
        [Buffer.from('101000044d5154540402003c0000', 'hex'), /^not TLS: first byte 0x10 looks like an MQTT CONNECT \(plain MQTT on the TLS port\?\)$/],
        [Buffer.from('GET / HTTP/1.1\r\n'), /^not TLS: starts with text "GET \/ HTTP\/1.1.." \(HTTP/],
        [Buffer.from('15030300020228', 'hex'), /^not a ClientHello: the first TLS record is alert \(type 21\)$/],
        [Buffer.from('802e0100020015', 'hex'), /SSL 2.0-format ClientHello/],
        [Buffer.from('16030300040200000000', 'hex'), /^not a ClientHello: the first handshake message is ServerHello$/],
        [Buffer.from('1603034001', 'hex'), /^bad TLS record length 16385/],
        [Buffer.from('ff00', 'hex'), /^not TLS: first byte 0xff/],
      ];
      for (const [bytes, error] of cases) {
        const r = parseClientHello(bytes)!;
        expect(r.ok, bytes.toString('hex')).to.equal(false);
        expect(r.error, bytes.toString('hex')).to.match(error);
        expect(r.error).to.not.include('\n');
      }
    });

    it('a malformed extension is named', function () {
      const broken = Buffer.from(wire);
      // The first extension's length points past the end of the hello.
      const hello = parseClientHello(wire)!;
      const extAt = 5 + 4 + 2 + 32 + 1 + wire[5 + 4 + 2 + 32]! ;
      const suitesLen = wire.readUInt16BE(extAt);
      const compAt = extAt + 2 + suitesLen;
      const extsAt = compAt + 1 + wire[compAt]!;
      broken.writeUInt16BE(0xffff, extsAt + 2 + 2);
      const r = parseClientHello(broken)!;
      expect(hello.ok).to.equal(true);
      expect(r.ok).to.equal(false);
      expect(r.error).to.match(/^malformed ClientHello: extensions \(\w+\): needs \d+ more bytes/);
      expect(r.cipherSuites, 'what was read before the fault is kept').to.deep.equal(hello.cipherSuites);
    });

    it('a stream of handshake records that never completes a hello is cut off at the read limit', function () {
      const header = Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff]); // a hello claiming 16 MB
      const r = parseClientHello(Buffer.concat([header, Buffer.alloc(HELLO_READ_LIMIT)]))!;
      expect(r.ok).to.equal(false);
      expect(r.error).to.match(/larger than the 16384 bytes hilt reads/);
    });

    it('fuzz: random and mutated bytes never throw, and every record is one well-formed line', function () {
      const check = (bytes: Uint8Array, final: boolean) => {
        const r = parseClientHello(Buffer.from(bytes), final);
        if (r === null) return !final && bytes.length < HELLO_READ_LIMIT;
        return typeof r.ok === 'boolean' && (r.ok ? r.error === null : typeof r.error === 'string' && !/[\r\n]/.test(r.error))
          && r.bytes <= bytes.length && Array.isArray(r.cipherSuites);
      };
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), check), { seed: 8, numRuns: 2000 });
      const mutation = fc.array(fc.tuple(fc.nat(wire.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });
      fc.assert(fc.property(mutation, fc.nat(wire.length), fc.boolean(), (edits, cut, final) => {
        const bytes = Buffer.from(wire);
        for (const [at, value] of edits) bytes[at] = value;
        return check(bytes.subarray(0, Math.max(cut, 1)), final) && check(bytes, final);
      }), { seed: 8, numRuns: 3000 });
    });
  });
});
