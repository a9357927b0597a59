/**
 * Test doubles for firmware mode, real on the wire: a tiny "firmware" that is a real mqtt.js client
 * over TLS printing ESP-IDF-style console lines, in process or behind a TCP port. The verdicts in
 * tests come from what the lab's endpoint recorded.
 */
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';

/**
 * A firmware that connects to `uri` with mqtt.js (retrying every `retryMs`, as esp-mqtt does) and
 * prints its boot banner and MQTT events like ESP-IDF. `stream` is its console.
 */
export class TinyFirmware {
  readonly stream = new PassThrough();
  private client: MqttClient | null = null;
  private t0 = Date.now();

  constructor(private readonly settings: {
    uri: string; ca: string; cert: string; key: string; clientId: string; retryMs: number; protocolVersion?: 4 | 5;
    /** Console lines printed when the port is opened, before the boot (a crash of the boot before). */
    before?: string[];
    /** Console text printed once, when the first connection is up (a crash mid-scenario). */
    onConnect?: string;
  }) {}

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
    const client = mqtt.connect(s.uri, { ca: s.ca, cert: s.cert, key: s.key, clientId: s.clientId, servername: 'localhost', reconnectPeriod: s.retryMs, connectTimeout: 2_000, protocolVersion: s.protocolVersion ?? 4 } as mqtt.IClientOptions);
    client.on('connect', () => {
      this.log('I', 'mqtt_example', 'MQTT_EVENT_CONNECTED');
      if (s.onConnect && !this.stream.writableEnded) this.stream.write(s.onConnect);
      s.onConnect = undefined;
    });
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
    for (const line of settings.before ?? []) fw.stream.write(`${line}\r\n`);
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

/** A firmware scenario file of the test's own, importing hilt by absolute path. */
export async function writeFirmwareScenario(dir: string, name: string, body: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { REPO } = await import('../helpers.ts');
  const path = join(dir, name);
  await writeFile(path, `import { expect, firmwareScenario } from '${join(REPO, 'harness', 'index.ts')}';\n${body}\n`);
  return path;
}
