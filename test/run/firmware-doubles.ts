/**
 * Test doubles for firmware mode, real on the wire: a stand-in endpoint (a TLS listener on
 * 127.0.0.1 with the lab's server certificate and an aedes broker, recording each connection
 * in the lab's attempts under 'endpoint') and a tiny "firmware" that is a real mqtt.js client over
 * TLS printing ESP-IDF-style console lines. The verdicts in tests come from what the endpoint recorded.
 */
import { Aedes } from 'aedes';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import tls from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { Lab } from '../../harness/lab/index.ts';
import type { Pki } from '../../harness/pki/index.ts';
import type { Endpoint, EndpointBehaviour, EndpointMaterials } from '../../harness/run/endpoint-contract.ts';

export interface StandIn extends Endpoint {
  served: Array<EndpointBehaviour | 'refuse'>;
  close(): Promise<void>;
}

export async function standInEndpoint(pki: Pki, lab: Lab, listenPort = 0): Promise<StandIn> {
  const broker = await Aedes.createBroker();
  const events = new EventEmitter();
  const served: StandIn['served'] = [];
  let refusing = true;
  const sockets = new Set<tls.TLSSocket>();
  const material = pki.material('server-valid');
  const server = tls.createServer({ cert: material.chain, key: material.key, ca: [pki.material('root-current').cert, pki.material('ca-issuing').cert], requestCert: true, rejectUnauthorized: false });
  server.on('secureConnection', (socket) => {
    const record = lab.attempts.open('endpoint', port, { address: socket.remoteAddress, port: socket.remotePort }, socket);
    record.tls = { outcome: 'ok', reason: null, code: null, protocol: socket.getProtocol(), cipher: socket.getCipher().name, clientCertificate: null, handshakeMs: null };
    socket.on('close', () => lab.attempts.close(record, 'device', 'closed'));
    socket.on('error', () => {});
    if (refusing) {
      record.tls.outcome = 'refused';
      record.tls.reason = 'refused-idle';
      lab.attempts.settle(record);
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // The first packet after the handshake is the device's CONNECT: recorded before the broker answers it.
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.once('packet', (packet: mqttPacket.Packet) => {
      if (packet.cmd !== 'connect') return;
      record.mqtt = { clientId: packet.clientId, keepalive: packet.keepalive ?? 0, clean: packet.clean ?? true, protocolVersion: 4, username: null, connack: null };
      events.emit('packet', record, { dir: 'in', atMs: lab.attempts.elapsed(record), type: 'connect', clientId: packet.clientId, bytes: 0 });
      lab.attempts.settle(record);
    });
    socket.on('data', (chunk: Buffer) => { if (!record.mqtt) parser.parse(chunk); });
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(listenPort, '127.0.0.1', resolve); });
  const port = (server.address() as AddressInfo).port;
  const url = `mqtts://127.0.0.1:${port}`;
  return {
    host: '127.0.0.1', port, url, events, served,
    serve(behaviour) { served.push(behaviour); refusing = false; },
    refuse() { served.push('refuse'); refusing = true; },
    dropAll() { for (const s of sockets) s.destroy(); },
    async publish() {},
    subscriptions() { return []; },
    async materials(deviceId): Promise<EndpointMaterials> {
      const own = pki.material(`device/${deviceId}`);
      return {
        uri: url, host: '127.0.0.1', port, hostNames: ['localhost', '127.0.0.1'], caBundlePath: '', caBundlePem: pki.bundle('bundle-current'),
        certPath: '', keyPath: '', certPem: own.cert, keyPem: own.key,
      };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/**
 * A firmware that connects to `uri` with mqtt.js (retrying every `retryMs`, as esp-mqtt does) and
 * prints its boot banner and MQTT events like ESP-IDF. `stream` is its console.
 */
export class TinyFirmware {
  readonly stream = new PassThrough();
  private client: MqttClient | null = null;
  private t0 = Date.now();

  constructor(private readonly settings: { uri: string; ca: string; cert: string; key: string; clientId: string; retryMs: number }) {}

  private log(level: 'I' | 'E' | 'W', tag: string, message: string): void {
    if (this.stream.writableEnded) return;
    this.stream.write(`${level} (${Date.now() - this.t0}) ${tag}: ${message}\r\n`);
  }

  boot(): void {
    this.t0 = Date.now();
    this.stream.write('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n');
    this.log('I', 'app_init', 'Project name:     tiny_mqtt');
    this.log('I', 'app_init', 'App version:      0.0.1');
    this.log('I', 'app_init', 'ELF file SHA256:  0123abcd...');
    this.log('I', 'app_init', 'ESP-IDF:          v5.5');
    const s = this.settings;
    const client = mqtt.connect(s.uri, { ca: s.ca, cert: s.cert, key: s.key, clientId: s.clientId, servername: 'localhost', reconnectPeriod: s.retryMs, connectTimeout: 2_000, protocolVersion: 4 } as mqtt.IClientOptions);
    client.on('connect', () => this.log('I', 'mqtt_example', 'MQTT_EVENT_CONNECTED'));
    client.on('error', (err) => this.log('E', 'mqtt_client', `esp-tls: ${err.message}`));
    client.on('close', () => this.log('I', 'mqtt_example', 'MQTT_EVENT_DISCONNECTED'));
    this.client = client;
  }

  crash(): void {
    this.stream.write("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\r\n");
  }

  async reset(): Promise<void> {
    this.client?.end(true);
    this.boot();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.client ? this.client.end(true, {}, () => resolve()) : resolve()));
    this.stream.end();
  }
}

/**
 * A board in firmware mode behind a TCP port (as ser2net or QEMU's -serial tcp offer one): each
 * time hilt opens the port the tiny firmware boots, connects to `settings.uri` and prints its
 * console there. Nothing hilt might write is read.
 */
export async function tcpFirmware(settings: ConstructorParameters<typeof TinyFirmware>[0]): Promise<{ port: number; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const running = new Set<TinyFirmware>();
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const fw = new TinyFirmware(settings);
    running.add(fw);
    fw.stream.pipe(socket);
    socket.on('error', () => {});
    socket.on('close', () => { sockets.delete(socket); running.delete(fw); void fw.close(); });
    fw.boot();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const fw of running) await fw.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port nothing listens on (bound, read back, released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether this hilt's lab starts an endpoint (issue 8, part A); the end-to-end firmware tests need it. */
export async function labHasEndpoint(pki: Pki): Promise<boolean> {
  const { startLab } = await import('../../harness/lab/index.ts');
  const { endpointOf } = await import('../../harness/run/endpoint-contract.ts');
  const lab = await startLab({ pki, profiles: [], endpoint: { port: 0 } } as Parameters<typeof startLab>[0]);
  try {
    return endpointOf(lab) !== null;
  } finally {
    await lab.close();
  }
}

/** A firmware scenario file of the test's own, importing hilt by absolute path. */
export async function writeFirmwareScenario(dir: string, name: string, body: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { REPO } = await import('../helpers.ts');
  const path = join(dir, name);
  await writeFile(path, `import { expect, firmwareScenario } from '${join(REPO, 'harness', 'index.ts')}';\n${body}\n`);
  return path;
}
