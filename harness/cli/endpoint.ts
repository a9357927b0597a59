/**
 * `hilt endpoint`: what a firmware test build needs to talk to hilt's endpoint (broker URI, host,
 * CA bundle, a device certificate and key, as files and as a C header), then the endpoint itself,
 * up with normal behaviour until Ctrl-C, each connection logged as `hilt broker` logs them.
 */
import type { Command } from 'commander';
import { resolve, join } from 'node:path';
import { UsageError, errnoOf, quoted } from '../errors.ts';
import { makeDir, writeFileAtomic } from '../files.ts';
import { startLab, urlOf, type Attempt, type Lab, type LabOptions } from '../lab/index.ts';
import { DEVICE_ID, ensurePki, warningsOf } from '../pki/index.ts';
import { DEFAULT_FIRMWARE_DEVICE, loadConfig } from '../run/config.ts';
import type { EndpointMaterials } from '../lab/index.ts';
import { within } from '../time.ts';
import { shown, wholeNumber } from './args.ts';
import { describeAttempt } from './broker.ts';
import { untilSignal } from './signals.ts';
import { isHostName, isWildcardAddress } from '../device/targets/options.ts';

interface EndpointOptions {
  dir: string;
  device?: string;
  host?: string;
  advertise?: string;
  port?: string;
  certs?: string;
  json: boolean;
}

/** The files written, by name in the output folder. */
export const ENDPOINT_FILES = { ca: 'ca.pem', cert: 'device.crt', key: 'device.key', header: 'hilt_endpoint.h' } as const;

/** A C string literal per line of `text`, so the PEM reads as it is and compiles as one string. */
function cString(text: string): string {
  return text.trimEnd().split('\n').map((line) => `    "${line.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\n"`).join('\n');
}

/** hilt_endpoint.h: the endpoint's URI and host as #defines, the PEMs as C strings. */
export function endpointHeader(m: EndpointMaterials, deviceId: string): string {
  return `/*
 * hilt_endpoint.h: made by \`hilt endpoint\` for device ${deviceId}; remade each time it runs.
 * Point a test build of your firmware at hilt's endpoint:
 *
 *   esp_mqtt_client_config_t cfg = {
 *       .broker.address.uri = HILT_BROKER_URI,
 *       .broker.verification.certificate = HILT_CA_PEM,
 *       .credentials.client_id = HILT_CLIENT_ID,
 *       .credentials.authentication.certificate = HILT_DEVICE_CERT_PEM,
 *       .credentials.authentication.key = HILT_DEVICE_KEY_PEM,
 *   };
 *
 * Or embed the PEM files beside this header instead (ESP-IDF appends the NUL esp-mqtt needs):
 *   idf_component_register(SRCS ... EMBED_TXTFILES ca.pem device.crt device.key)
 *   extern const char ca_pem_start[] asm("_binary_ca_pem_start");
 *   extern const char device_crt_start[] asm("_binary_device_crt_start");
 *   extern const char device_key_start[] asm("_binary_device_key_start");
 *
 * This file holds the device's private key: keep it out of version control.
 */
#pragma once

#define HILT_BROKER_URI "${m.uri}"
#define HILT_BROKER_HOST "${m.host}"
#define HILT_BROKER_PORT ${m.port}
#define HILT_CLIENT_ID "${deviceId}"

/* The CA bundle (current and next lab root, so a CA rotation drill passes). */
static const char HILT_CA_PEM[] =
${cString(m.caBundlePem)};

static const char HILT_DEVICE_CERT_PEM[] =
${cString(m.certPem)};

static const char HILT_DEVICE_KEY_PEM[] =
${cString(m.keyPem)};
`;
}

/** Writes the four files into `dir`; the key and the header (which holds it) 0600. */
export async function writeEndpointFiles(dir: string, m: EndpointMaterials, deviceId: string): Promise<Record<keyof typeof ENDPOINT_FILES, string>> {
  await makeDir(dir);
  const paths = {
    ca: join(dir, ENDPOINT_FILES.ca), cert: join(dir, ENDPOINT_FILES.cert), key: join(dir, ENDPOINT_FILES.key), header: join(dir, ENDPOINT_FILES.header),
  };
  await writeFileAtomic(paths.ca, m.caBundlePem);
  await writeFileAtomic(paths.cert, m.certPem);
  await writeFileAtomic(paths.key, m.keyPem, 0o600);
  await writeFileAtomic(paths.header, endpointHeader(m, deviceId), 0o600);
  return paths;
}

function portOf(value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : wholeNumber('--port', value, 0, 65_535);
}

export function registerEndpoint(program: Command): void {
  program
    .command('endpoint')
    .description('write what a firmware test build needs to reach hilt\'s endpoint (URI, CA bundle, device certificate and key, a C header), then keep the endpoint up until Ctrl-C')
    .option('--dir <dir>', 'where the files go', 'hil/endpoint')
    .option('--device <id>', `the device's id: its certificate's CN and MQTT client id (default: hilt.config.json firmware.deviceId, else ${DEFAULT_FIRMWARE_DEVICE})`)
    .option('--host <address>', 'the address of this machine a board reaches it at (e.g. 192.168.1.20 on Wi-Fi): listened on, put on the server certificates and in the header; not 0.0.0.0 (default: hilt.config.json endpoint.host, else 127.0.0.1)')
    .option('--advertise <name>', 'the name the board is given (URI, header, server certificate) when it reaches this machine by another one than --host: 10.0.2.2 for a board in QEMU, whose user network forwards it to 127.0.0.1')
    .option('--port <port>', 'port to listen on, 0 for any free port (default: hilt.config.json endpoint.port, else 8883)')
    .option('--certs <dir>', 'lab PKI directory (default: hilt.config.json certsDir, else certs)')
    .option('--json', 'one JSON object per line: the endpoint, then attempts as they close', false)
    .action(async (opts: EndpointOptions) => {
      const config = await loadConfig('hilt.config.json', false);
      const deviceId = opts.device ?? config.firmware.deviceId;
      if (!DEVICE_ID.test(deviceId)) throw new UsageError(`--device ${quoted(deviceId)}: use letters, digits, '.', '_' and '-' (up to 64), e.g. ${DEFAULT_FIRMWARE_DEVICE}`);
      const host = opts.host ?? config.endpoint.host ?? '127.0.0.1';
      const hostSetting = opts.host !== undefined ? '--host' : '"endpoint.host" in hilt.config.json';
      const reachable = 'give the address of this machine a board can reach, e.g. --host 192.168.1.20';
      if (!isHostName(host)) throw new UsageError(`${hostSetting} ${quoted(host)}: not a host name or address: ${reachable}`);
      // The host is what the board is told and what the server certificate must name: a wildcard
      // would bind, but the header would point the board at 127.0.0.1 and no certificate names it.
      if (isWildcardAddress(host)) throw new UsageError(`${hostSetting} ${quoted(host)}: every address of this machine, which no board can connect to or find on a certificate: ${reachable}`);
      const advertised = opts.advertise;
      if (advertised !== undefined && (!isHostName(advertised) || isWildcardAddress(advertised))) {
        throw new UsageError(`--advertise ${quoted(advertised)}: give the name or address the board reaches this machine by, e.g. --advertise 10.0.2.2 for QEMU`);
      }
      const port = portOf(opts.port, config.endpoint.port);
      const certsDir = opts.certs ?? config.certsDir;
      const dir = resolve(opts.dir);
      const extraNames = [host, ...(advertised === undefined ? [] : [advertised])].filter((h) => !['127.0.0.1', 'localhost', '::1'].includes(h));

      // Bind first with the certificates as they are (as `hilt broker --host` does): a host that
      // cannot be bound never reaches the server certificates.
      let pki = await ensurePki({ dir: certsDir, devices: [deviceId] });
      for (const w of warningsOf(pki)) process.stderr.write(`hilt: warning: ${w}\n`);
      // A bind error names the setting to change where the user set it: the option, or the config.
      const portSetting = opts.port !== undefined ? '--port' : '"endpoint.port" in hilt.config.json';
      const bindFixes = {
        port: `give another ${portSetting} (0: any free port)`,
        host: `give one it has with ${hostSetting}`,
        other: `give another ${hostSetting} or ${portSetting}`,
      };
      const lab = await startLab({ pki, profiles: [], host, endpoint: { host, port, bindFixes } } as LabOptions);
      try {
        const endpoint = lab.endpoint;
        if (!endpoint) throw new UsageError('this hilt has no endpoint in its lab: update hilt');
        if (extraNames.length > 0) {
          pki = await ensurePki({ dir: certsDir, hosts: extraNames, devices: [deviceId] });
          lab.useCertificates(pki);
        }
        // Normal behaviour: the lab's valid chain, a client certificate required.
        endpoint.serve({ tls: { server: 'server-valid' } });
        const bound = await endpoint.materials(deviceId);
        // The board is told the advertised name; the endpoint still listens where --host says.
        const materials = advertised === undefined ? bound : { ...bound, uri: urlOf('tls', advertised, bound.port), host: advertised };
        let paths: Awaited<ReturnType<typeof writeEndpointFiles>>;
        try {
          paths = await writeEndpointFiles(dir, materials, deviceId);
        } catch (err) {
          throw new UsageError(`cannot write ${dir} (${errnoOf(err)}): give a folder hilt can create and write with --dir`, { cause: err });
        }
        const stopped = untilSignal();
        announce(materials, deviceId, paths, opts.json);
        logAttempts(lab.attempts, opts.json);
        if (opts.json) process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`);
        const signal = await stopped;
        if (!opts.json) process.stdout.write(`${signal}: endpoint closing\n`);
      } finally {
        await within(5_000, lab.close());
      }
    });
}

/** The URI and the files (paths only: a key's contents never reach the terminal). */
function announce(m: EndpointMaterials, deviceId: string, paths: Record<string, string>, json: boolean): void {
  const write = (line: string) => process.stdout.write(`${line}\n`);
  if (json) {
    write(JSON.stringify({ type: 'endpoint', uri: m.uri, host: m.host, port: m.port, hostNames: m.hostNames, clientId: deviceId, files: paths }));
  } else {
    write(`endpoint ${m.uri} (host names ${m.hostNames.join(', ')}); client id ${deviceId}; Ctrl-C to stop`);
    write(`  CA bundle         ${shown(paths.ca!)}`);
    write(`  device cert       ${shown(paths.cert!)}`);
    write(`  device key        ${shown(paths.key!)} (private: 0600)`);
    write(`  C header          ${shown(paths.header!)} (holds the key too: 0600)`);
  }
}

/** One line (or JSON line) per attempt on the endpoint, as `hilt broker` prints them. */
function logAttempts(labAttempts: Lab['attempts'], json: boolean): void {
  if (json) {
    labAttempts.writeJsonLines(process.stdout);
    return;
  }
  labAttempts.on('closed', (a: Attempt) => process.stdout.write(`${describeAttempt(a)}\n`));
}
