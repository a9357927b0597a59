/**
 * The errno an emulated board reports for a failed TCP connect is the one the host agent reports
 * (firmware/host/esp_tls_host.c maps Linux's errno to ESP-IDF's newlib numbers): a refused port
 * and an unreachable host cannot both be made on 127.0.0.1, so the two tables are compared here.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONNECT_ERRNO, connectErrno } from '../../emulator/connect.ts';
import { REPO } from '../helpers.ts';

describe('emulator: errno of a failed TCP connect', function () {
  let hostSource = '';
  before(async () => { hostSource = await readFile(join(REPO, 'firmware/host/esp_tls_host.c'), 'utf8'); });

  /** `case CODE: return N;` in the host agent's etls_lwip_errno, and its text for N. */
  const host = (code: string) => {
    const errno = Number(new RegExp(`case ${code}: return (\\d+);`).exec(hostSource)?.[1]);
    const text = new RegExp(`case ${errno}: return "([^"]+)";`).exec(hostSource)?.[1];
    return { errno, text };
  };

  it('an unreachable host is newlib\'s EHOSTUNREACH (118), not Linux\'s 113', () => {
    expect(connectErrno('EHOSTUNREACH')).to.deep.equal({ errno: 118, text: 'Host is unreachable' });
  });

  it('a refused port is ECONNRESET (104): lwIP reports the RST answering SYN as a reset', () => {
    expect(connectErrno('ECONNREFUSED')).to.deep.equal({ errno: 104, text: 'Connection reset by peer' });
    expect(connectErrno(undefined).errno).to.equal(104);
  });

  it('agrees with the host agent\'s table, code by code', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', ...Object.keys(CONNECT_ERRNO)]) {
      expect(connectErrno(code), code).to.deep.equal(host(code));
    }
  });
});
