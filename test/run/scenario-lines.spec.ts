/**
 * The catalogue asserts only console lines ESP-IDF itself prints (esp-tls, tcp_transport,
 * esp-mqtt), never one that only hilt's agent prints: a device written from docs/protocol.md
 * must be able to pass every scenario whose outcome it reports correctly. Each `printed(...)`
 * pattern in scenarios/*.spec.ts must match a line of the library list below, and none of the
 * agent's own.
 */
import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MBEDTLS_ERR, mbedtlsHex } from '../../emulator/mbedtls/codes.ts';
import { REPO } from '../helpers.ts';

const hexes = Object.values(MBEDTLS_ERR).map(mbedtlsHex);

/**
 * What ESP-IDF v5.5 prints around a TLS or MQTT connect, at the default log level, with a
 * timestamp as a board prints it (ESP32-FACTS.md section 2; esp-tls/esp_tls_mbedtls.c logs
 * `-0x%04X`, esp_tls.c, tcp_transport's transport_base, esp-mqtt's mqtt_client.c).
 */
const LIBRARY_LINES = [
  ...hexes.map((h) => `E (5123) esp-tls-mbedtls: mbedtls_ssl_handshake returned ${h}`),
  ...hexes.map((h) => `E (5123) esp-tls-mbedtls: mbedtls_ssl_setup returned ${h}`),
  'I (5123) esp-tls-mbedtls: Failed to verify peer certificate!',
  'I (5123) esp-tls-mbedtls: Certificate verified.',
  'E (5123) esp-tls: Failed to open new connection',
  'W (5123) esp-tls: Failed to open new connection in specified timeout',
  'E (5123) transport_base: Failed to open a new connection',
  'E (5123) mqtt_client: Error transport connect',
  'W (5123) mqtt_client: Connection refused, not authorized',
  'W (5123) mqtt_client: Connection refused, bad username or password',
  'E (5123) mqtt_client: MQTT connect failed',
  // esp_mqtt_connect() when the broker closes before its CONNACK (esp-mqtt mqtt_client.c).
  'E (5123) mqtt_client: esp_mqtt_connect: mqtt_message_receive() returned -1',
];

/** Lines only hilt's own agent prints (the emulator's `hil_agent` tag). */
const AGENT_LINES = [
  'I (5123) hil_agent: MQTT_EVENT_CONNECTED',
  'I (5123) hil_agent: MQTT_EVENT_ERROR',
  'I (450) hil_agent: test agent ready, mac 24:0a:c4:00:00:01, free heap 150000',
];

/** The `printed(/.../)` patterns of a scenario file, as RegExps. */
function printedPatterns(source: string): RegExp[] {
  return [...source.matchAll(/\.printed\(\s*\/((?:\\.|[^/\\\n])+)\/([a-z]*)\s*\)/g)].map((m) => new RegExp(m[1]!, m[2]));
}

describe('scenario console lines', function () {
  it('finds the patterns it audits (the reader is not blind)', function () {
    expect(printedPatterns("expect(ctx).to.have.printed(/a\\/b$/);\nexpect(ctx, l).not.to.have.printed(/x/i)").map(String))
      .to.deep.equal(['/a\\/b$/', '/x/i']);
  });

  it('every printed() in scenarios/*.spec.ts and the shared assertions is an ESP-IDF line, none is only the agent\'s', async function () {
    const dir = join(REPO, 'scenarios');
    // harness/run/assertions.ts: the helpers scenarios call (expectDeviceCertificateRefused ...).
    const files = [...(await readdir(dir)).filter((f) => f.endsWith('.spec.ts')), '../harness/run/assertions.ts'];
    let audited = 0;
    const wrong: string[] = [];
    for (const file of files) {
      for (const pattern of printedPatterns(await readFile(join(dir, file), 'utf8'))) {
        audited++;
        if (!LIBRARY_LINES.some((l) => pattern.test(l))) wrong.push(`${file}: ${pattern} matches no line ESP-IDF prints`);
        const agent = AGENT_LINES.find((l) => pattern.test(l));
        if (agent) wrong.push(`${file}: ${pattern} matches the agent's own "${agent}"`);
      }
    }
    expect(audited).to.be.greaterThan(10);
    expect(wrong).to.deep.equal([]);
  });
});
