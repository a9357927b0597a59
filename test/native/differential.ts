/**
 * The same connects on the emulated board and on the host agent (the agent core over the real
 * Mbed TLS 3.6, configured as ESP-IDF v5.5 configures it), against one lab: what each device
 * reported (esp_err, stack_err, verify flags and strings, version, suite, mqtt), the shape of its
 * timing (which phases it reached; not the values), the esp-tls / esp-mqtt console lines, what the
 * broker recorded of each attempt, and the SNI a TLS server saw. The low-heap connects run with the
 * reserve each device's own bisection finds (harness/run/heap-split.ts), as scenarios 10 and 11 do.
 * The library is the reference: where the two differ, the emulator is wrong unless the difference
 * is listed in KNOWN with the reason it stays.
 *
 * Used by test/native/differential.spec.ts (which asserts it) and by
 * test/native/fidelity-table.ts (which writes docs/fidelity.md from it).
 */
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import { Device } from '../../harness/device/device.ts';
import { startLab, type Attempt, type Lab } from '../../harness/lab/index.ts';
import { PROFILES } from '../../harness/lab/profiles.ts';
import { buildAgent, buildMbedtls } from '../../harness/native/build.ts';
import { findHeapSplit, type HeapSplit } from '../../harness/run/heap-split.ts';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import type { ConnectResult } from '../../harness/protocol/index.ts';
import { MemoryTransport } from '../../harness/transport/index.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { openStreamBoard } from '../../emulator/index.ts';
import { tempDir } from '../helpers.ts';

export const DEVICE_ID = 'hilt-device-1'; // the CN of client-valid: the lab's identity rule

export interface Case {
  /** Unique, stable: the key KNOWN and the table use. */
  name: string;
  command: 'tls.connect' | 'mqtt.connect';
  /** A lab listener, 'sni' (a TLS server that records the SNI it got) or 'refused' (a closed port). */
  target: string;
  ca?: string;
  identity?: string | null;
  args?: Record<string, string | number>;
  /** Run with the device clock cleared (scenario 04). */
  clockCleared?: boolean;
  /** Run with all but some heap reserved: where this device's own bisection says, or a given amount (HeapPoint). */
  heap?: HeapPoint;
}

/**
 * Where a low-heap case leaves the heap, from the device's own split of the same connect:
 * scenario 10's and 11's reserves (their bisection, 512 B steps), and the four sides of the two
 * boundaries to the byte (setup's last allocation fails / setup passes and the handshake's first
 * one fails / the handshake's deepest one fails / it connects).
 */
export type HeapPoint = 'scenario 10' | 'scenario 11' | 'setup fails' | 'setup passes' | 'handshake fails' | 'connects' | { free: number };

/** Every lab profile with both commands, then the other connects of the wave-1 scenarios. */
export const CASES: readonly Case[] = [
  ...PROFILES.flatMap((p): Case[] => (['tls.connect', 'mqtt.connect'] as const).map((command) => ({
    name: `${p.name} ${command}`, command, target: p.name, ca: p.trust ?? 'bundle-current',
    ...(p.kind === 'stall' ? { args: { timeout_ms: 1_500 } } : {}),
  }))),
  { name: 'next-root with the old bundle (12)', command: 'mqtt.connect', target: 'next-root', ca: 'bundle-current' },
  { name: 'next-root with the transition bundle (12)', command: 'mqtt.connect', target: 'next-root', ca: 'bundle-transition' },
  { name: 'good with the transition bundle (12)', command: 'mqtt.connect', target: 'good', ca: 'bundle-transition' },
  { name: 'device clock not set (04)', command: 'mqtt.connect', target: 'good', clockCleared: true },
  { name: 'expired device certificate (13)', command: 'mqtt.connect', target: 'good', identity: 'client-expired' },
  { name: 'device certificate from an unknown CA (14)', command: 'mqtt.connect', target: 'good', identity: 'client-rogue' },
  { name: 'client id not the certificate CN (15)', command: 'mqtt.connect', target: 'good', args: { client_id: `not-${DEVICE_ID}` } },
  { name: 'no client certificate on good', command: 'mqtt.connect', target: 'good', identity: null },
  { name: 'wrong-host with skip_cn (07)', command: 'mqtt.connect', target: 'wrong-host', args: { skip_cn: 1 } },
  { name: 'SNI sent by default', command: 'tls.connect', target: 'sni' },
  { name: 'SNI with skip_cn', command: 'tls.connect', target: 'sni', args: { skip_cn: 1 } },
  { name: 'refused port', command: 'mqtt.connect', target: 'refused' },
  // ARIA is on by default in the library; the emulator's TLS (OpenSSL) must negotiate it the same.
  { name: 'only an ARIA suite offered (ciphers=)', command: 'tls.connect', target: 'good', args: { ciphers: 'TLS-ECDHE-ECDSA-WITH-ARIA-128-GCM-SHA256' } },
  // Static RSA suites, named against the library's order: a device offers them in its own
  // (ciphersuite_preference: AES-256 > ARIA-256 > AES-128), and the rsa listener takes the
  // device's first, so the suite agreed shows the order.
  { name: 'static RSA suites, named out of order (ciphers=)', command: 'tls.connect', target: 'rsa', ca: 'bundle-rsa',
    args: { ciphers: 'TLS-RSA-WITH-AES-128-GCM-SHA256,TLS-RSA-WITH-ARIA-256-GCM-SHA384,TLS-RSA-WITH-AES-256-CBC-SHA' } },
  // Low heap (scenarios 10 and 11), each device at its own split of scenario 01's connect.
  ...(['scenario 10', 'scenario 11', 'setup fails', 'setup passes', 'handshake fails', 'connects'] as const).map((heap): Case => ({
    name: `low heap: ${heap}`, command: 'mqtt.connect', target: 'good', heap,
  })),
  // Inside the verify range on both (library 29,264-32,359 B, model 29,4xx-32,355 B): the chain
  // is parsed, its signature checks cannot get their temporaries and it fails as badly signed.
  { name: 'low heap: 31,000 B free, the chain parsed but not verified', command: 'mqtt.connect', target: 'good', heap: { free: 31_000 } },
];

/**
 * Differences that stay, by case name and field, with the reason. Anything else that differs is
 * an emulator defect (the spec fails on it); anything listed that no longer differs fails too,
 * so this list and docs/fidelity.md stay true.
 */
export const KNOWN: Readonly<Record<string, Readonly<Record<string, string>>>> = Object.fromEntries([
  ...[
    ...['expired', 'not-yet-valid', 'wrong-host', 'self-signed', 'rogue', 'lookalike', 'wrong-eku']
      .flatMap((p) => [`${p} tls.connect`, `${p} mqtt.connect`]),
    'next-root with the old bundle (12)', 'device clock not set (04)',
  ].map((name) => [name, {
    // Mbed TLS rejects the server's certificate when it arrives and alerts (or closes): the broker
    // records a failed handshake. The emulator's TLS is Node's, which verifies only once its
    // handshake has finished: the broker records a completed handshake the device then closes.
    // The device's own report and lines are the library's in both; only the broker's view differs.
    'broker.tls': 'Node verifies the server after its handshake: the broker sees it complete, then a close',
  }]),
  ...['low heap: scenario 11', 'low heap: setup passes', 'low heap: handshake fails', 'low heap: 31,000 B free, the chain parsed but not verified'].map((name) => [name, {
    // The same for the heap: the library runs out part-way through the server's flight (parsing
    // its certificate) or its own key exchange and stops there; the emulator's model decides once
    // Node's handshake is over, and only then does the device close. Report and lines agree.
    'broker.tls': 'the heap model decides after Node\'s handshake: the broker sees it complete, then a close',
  }]),
]);

/**
 * A timing object's structure, not its values (those are the machine's, or the model's): which
 * phases the attempt reached, and whether the figures hang together as docs/protocol.md defines
 * them (a phase reached means every earlier one was; none negative; total_ms is the whole attempt,
 * so at least each phase and, rounding aside, their sum).
 */
export interface TimingShape {
  /** 'host' when the device sent none and hilt measured the round trip. */
  by: 'device' | 'host';
  /** The phases that are not null, in dns, tcp, tls, mqtt order. */
  reached: string[];
  /** Every rule above holds; otherwise the first one broken. */
  consistent: true | string;
}

const PHASES = ['dns_ms', 'tcp_ms', 'tls_ms', 'mqtt_ms'] as const;

export function timingShape(timing: ConnectResult['timing']): TimingShape {
  const values = PHASES.map((p) => timing[p]);
  const reached = PHASES.filter((_, i) => values[i] !== null).map((p) => p.slice(0, -3));
  const numbers = values.filter((v): v is number => v !== null);
  const sum = numbers.reduce((a, b) => a + b, 0);
  const broken = values.some((v, i) => v !== null && values.slice(0, i).includes(null)) ? 'a phase reached after one that was not'
    : numbers.some((v) => v < 0) || timing.total_ms < 0 ? 'a negative time'
    : numbers.some((v) => v > timing.total_ms + 1) ? 'a phase longer than total_ms'
    : timing.total_ms + 1 < sum ? 'total_ms shorter than its phases together'
    : null;
  return { by: timing.source === 'host' ? 'host' : 'device', reached, consistent: broken ?? true };
}

/** What one device did for one case, in comparable form (heap figures: docs/fidelity.md "Heap"). */
export interface Observation {
  connected: boolean;
  /** The result's `tls` on every connect, failed ones too (from the server's hello on; null before). */
  tls: ConnectResult['tls'];
  error: Record<string, unknown> | null;
  mqtt: ConnectResult['mqtt'];
  /** esp-tls, esp-tls-mbedtls, transport_base, mqtt_client lines, timestamps removed. */
  lines: string[];
  broker: Record<string, unknown> | null;
  /** The server name the SNI server saw ('sni' cases only; null: none sent). */
  sni?: string | null;
  timing: TimingShape;
  /** Low-heap cases: the free heap the device was left with (its own split; not compared). */
  leave?: number;
}

export interface Row {
  case: Case;
  native: Observation;
  emulator: Observation;
  /** field -> [native, emulator], for the fields that differ. */
  differences: Record<string, [unknown, unknown]>;
}

const ERROR_FIELDS = ['esp_err', 'esp_err_name', 'stack_err', 'stack_err_name', 'verify_flags', 'verify_info', 'mqtt_error_type', 'connack', 'sock_errno'] as const;
const LINE = /^([EWI]) \(\d+\) (esp-tls|esp-tls-mbedtls|transport_base|mqtt_client): (.*)$/;

function observe(result: ConnectResult, lines: string[], attempt: Attempt | null): Observation {
  const error = result.error as Record<string, unknown> | null;
  return {
    connected: result.connected,
    tls: result.tls,
    error: error ? Object.fromEntries(ERROR_FIELDS.map((k) => [k, error[k] ?? null])) : null,
    mqtt: result.mqtt,
    timing: timingShape(result.timing),
    lines: lines.flatMap((l) => { const m = LINE.exec(l); return m ? [`${m[1]} ${m[2]}: ${m[3]}`] : []; }),
    broker: attempt && {
      tls: attempt.tls && {
        outcome: attempt.tls.outcome, reason: attempt.tls.reason, protocol: attempt.tls.protocol, cipher: attempt.tls.cipher,
        client: attempt.tls.clientCertificate?.subject ?? null,
      },
      mqtt: attempt.mqtt && { clientId: attempt.mqtt.clientId, connack: attempt.mqtt.connack },
      closedBy: attempt.closed?.by ?? null,
    },
  };
}

const TLS_FIELDS = ['version', 'cipher', 'alpn', 'peer'] as const;

/** The fields of two observations that differ (lines compared as a whole). */
export function differences(a: Observation, b: Observation): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const key of ['connected', 'mqtt', 'lines', 'sni', 'timing'] as const) {
    if (!isDeepStrictEqual(a[key] ?? null, b[key] ?? null)) out[key] = [a[key] ?? null, b[key] ?? null];
  }
  // One side with a tls block and the other without is one difference; otherwise field by field.
  if ((a.tls === null) !== (b.tls === null)) out.tls = [a.tls, b.tls];
  else for (const key of TLS_FIELDS) {
    const x = a.tls?.[key] ?? null;
    const y = b.tls?.[key] ?? null;
    if (!isDeepStrictEqual(x, y)) out[`tls.${key}`] = [x, y];
  }
  for (const key of ERROR_FIELDS) {
    const x = a.error?.[key] ?? null;
    const y = b.error?.[key] ?? null;
    if (!isDeepStrictEqual(x, y)) out[`error.${key}`] = [x, y];
  }
  for (const key of ['tls', 'mqtt', 'closedBy'] as const) {
    const x = a.broker?.[key] ?? null;
    const y = b.broker?.[key] ?? null;
    if (!isDeepStrictEqual(x, y)) out[`broker.${key}`] = [x, y];
  }
  return out;
}

/** Each device's splits, by precision: searched once, used by every low-heap case. */
const splits = new WeakMap<Device, Map<number, HeapSplit>>();

/** The free heap a low-heap case leaves `device` with, from its own split of `connect`. */
async function heapLeave(device: Device, point: HeapPoint, connect: () => Promise<ConnectResult>): Promise<number> {
  if (typeof point === 'object') return point.free;
  // The scenarios search in 512 B steps (their default); the boundaries are found to the byte.
  const precision = point === 'scenario 10' || point === 'scenario 11' ? 512 : 1;
  const mine = splits.get(device) ?? new Map<number, HeapSplit>();
  splits.set(device, mine);
  const split = mine.get(precision) ?? await findHeapSplit(device, connect, precision);
  mine.set(precision, split);
  const { in_content_len: inLen, out_content_len: outLen } = device.hello!.mbedtls;
  switch (point) {
    // scenarios/10-low-heap-setup.spec.ts: half the record buffers short of setup
    case 'scenario 10': return split.setupFails - Math.floor((inLen + outLen) / 2);
    // scenarios/11-low-heap-handshake.spec.ts: the most free heap with which the handshake failed
    case 'scenario 11':
    case 'handshake fails':
      if (split.handshakeFails === null) throw new Error(`no handshake failure between ${split.setupPasses} B and ${split.connects} B free`);
      return split.handshakeFails;
    case 'setup fails': return split.setupFails;
    case 'setup passes': return split.setupPasses;
    case 'connects': return split.connects;
  }
}

/** A TLS server that only records the server name each ClientHello carried. */
async function sniServer(pki: Pki): Promise<{ port: number; seen: Array<string | null>; close: () => Promise<void> }> {
  const seen: Array<string | null> = [];
  const { chain, key } = pki.material('server-valid');
  const server = tls.createServer({ cert: chain, key }, (socket) => {
    seen.push(typeof socket.servername === 'string' ? socket.servername : null);
    socket.on('error', () => {});
    socket.end();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port, seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port that refuses: bound, then closed again. */
async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Builds the host agent (null when the Makefile has no agent target: the caller skips), then runs
 * every case on both devices, one after the other, each against a fresh view of the lab.
 */
export async function compareAll(log: (line: string) => void = () => {}): Promise<Row[] | null> {
  const agent = await buildAgent(await buildMbedtls());
  if (!agent) return null;
  const tmp = await tempDir('hilt-differential-');
  let lab: Lab | null = null;
  const devices: Device[] = [];
  const sni = { server: null as Awaited<ReturnType<typeof sniServer>> | null };
  let board: ReturnType<typeof openStreamBoard> | null = null;
  try {
    const pki = await ensurePki({ dir: tmp.dir, devices: [DEVICE_ID] });
    lab = await startLab({ pki });
    sni.server = await sniServer(pki);
    const refused = await refusedPort();
    const native = await Device.open(new ProcessTransport({ command: agent.binary }));
    devices.push(native);
    board = openStreamBoard({ index: 7 });
    const emulator = await Device.open(new MemoryTransport(board.stream, 'emulated ESP32'));
    devices.push(emulator);
    for (const device of devices) await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });

    const run = async (device: Device, c: Case): Promise<Observation> => {
      const port = c.target === 'sni' ? sni.server!.port : c.target === 'refused' ? refused : lab!.listener(c.target).port;
      const identity = c.identity === undefined ? 'client-valid' : c.identity;
      const args = {
        host: '127.0.0.1', port, sni: 'localhost', ca: 'ca',
        ...(identity ? { cert: 'dev_cert', key: 'dev_key' } : {}),
        ...(c.command === 'mqtt.connect' ? { client_id: DEVICE_ID } : {}),
        timeout_ms: 10_000, ...c.args,
      };
      // A board holds 8 slots: each case stores the trust and identity it uses.
      await device.store('ca', 'ca', pki.bundle(c.ca ?? 'bundle-current'));
      if (identity) {
        await device.store('dev_cert', 'cert', pki.material(identity).cert);
        await device.store('dev_key', 'key', pki.material(identity).key);
      }
      if (c.clockCleared) await device.command('time.clear');
      const leave = c.heap ? await heapLeave(device, c.heap, () => device.connect(c.command, args)) : null;
      const { free } = await device.command('heap.stats');
      if (leave !== null) await device.command('heap.reserve', { bytes: free - leave });
      const mark = device.mark();
      const labMark = lab!.attempts.mark();
      const seenBefore = sni.server!.seen.length;
      const result = await device.connect(c.command, args).finally(async () => { if (leave !== null) await device.command('heap.release'); });
      const lines = device.consoleSince(mark);
      if (result.connected) await device.command(c.command === 'mqtt.connect' ? 'mqtt.disconnect' : 'tls.close');
      if (c.clockCleared) await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
      const listener = c.target !== 'sni' && c.target !== 'refused';
      const attempt = listener ? await lab!.attempts.next(c.target, { after: labMark, until: 'closed', timeoutMs: 15_000 }) : null;
      const observation = observe(result, lines, attempt);
      if (c.target === 'sni') observation.sni = sni.server!.seen.length > seenBefore ? sni.server!.seen[seenBefore]! : null;
      if (leave !== null) observation.leave = leave;
      return observation;
    };

    const rows: Row[] = [];
    for (const c of CASES) {
      const n = await run(native, c);
      const e = await run(emulator, c);
      const row = { case: c, native: n, emulator: e, differences: differences(n, e) };
      log(`${c.name}: ${Object.keys(row.differences).join(', ') || 'same'}`);
      rows.push(row);
    }
    return rows;
  } finally {
    for (const device of devices) await device.close().catch(() => {});
    await board?.close();
    await sni.server?.close();
    await lab?.close();
    await tmp.remove();
  }
}
