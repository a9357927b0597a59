/**
 * Per-scenario heap figures: each wave-1 scenario's connect (same listener, identity, trust store
 * and options) run on one device, giving the peak the connection took from the heap. Shared by
 * test/native/heap.spec.ts (emulator vs host agent within 10 %) and bench/heap.ts (the table).
 */
import { Device } from '../../harness/device/device.ts';
import type { Lab } from '../../harness/lab/index.ts';
import type { Pki } from '../../harness/pki/index.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { openStreamBoard, type StreamBoard } from '../../emulator/index.ts';

export interface HeapCase {
  scenario: string;
  listener: string;
  identity?: 'client-valid' | 'client-expired' | 'client-rogue';
  trust?: 'bundle-current' | 'bundle-next' | 'bundle-rsa';
  skipCn?: boolean;
  clockUnset?: boolean;
}

/** The wave-1 scenarios that reach the TLS handshake (16's stall never does; 10/11 reserve heap). */
export const HEAP_CASES: readonly HeapCase[] = [
  { scenario: '01 mutual-TLS happy path', listener: 'good' },
  { scenario: '02 expired server certificate', listener: 'expired' },
  { scenario: '03 server certificate not yet valid', listener: 'not-yet-valid' },
  { scenario: '04 device clock not set', listener: 'good', clockUnset: true },
  { scenario: '05 wrong CA', listener: 'rogue' },
  { scenario: '06 lookalike root', listener: 'lookalike' },
  { scenario: '07 wrong hostname', listener: 'wrong-host' },
  { scenario: '07 wrong hostname, skip_cn', listener: 'wrong-host', skipCn: true },
  { scenario: '08 cipher mismatch', listener: 'restricted-cipher' },
  { scenario: '09 protocol version mismatch', listener: 'tls1.3-only' },
  { scenario: '12 CA rotation', listener: 'next-root', trust: 'bundle-next' },
  { scenario: '13 device certificate expired', listener: 'good', identity: 'client-expired' },
  { scenario: '14 device certificate from an unknown CA', listener: 'good', identity: 'client-rogue' },
  // Not a scenario: the RSA-2048 chain, nearest the lab comes to Espressif's https_request case.
  { scenario: '(RSA-2048 chain, ECDHE-RSA)', listener: 'rsa', trust: 'bundle-rsa' },
];

export interface HeapFigure {
  scenario: string;
  connected: boolean;
  error: string | null;
  peak: number;
  /** What an open connection keeps (before - after), 0 when it failed. */
  held: number;
  source: string;
  /** The connect task's stack.peak_used, null when the device reports no stack (docs/protocol.md). */
  stack: number | null;
}

/** The emulator as a Device, in this process (as the emulator target opens it). */
export async function openEmulator(): Promise<{ device: Device; close: () => Promise<void> }> {
  const board: StreamBoard = openStreamBoard();
  const device = await Device.open(new MemoryTransport(board.stream, 'emulated ESP32'));
  return { device, close: async () => { await device.close(); await board.close(); } };
}

/** The host agent (a built binary) as a Device, through ProcessTransport. */
export async function openNative(binary: string, args: string[] = []): Promise<{ device: Device; close: () => Promise<void> }> {
  const device = await Device.open(new ProcessTransport({ command: binary, args }));
  return { device, close: () => device.close() };
}

/** Runs every case on `device` (its heap untouched by reserves) and returns each peak. */
export async function measureHeap(device: Device, lab: Lab, pki: Pki, cases: readonly HeapCase[] = HEAP_CASES): Promise<HeapFigure[]> {
  const figures: HeapFigure[] = [];
  for (const c of cases) {
    const identity = c.identity ?? 'client-valid';
    await device.store('h_ca', 'ca', pki.bundle(c.trust ?? 'bundle-current'));
    await device.store('h_cert', 'cert', pki.material(identity).cert);
    await device.store('h_key', 'key', pki.material(identity).key);
    if (c.clockUnset) await device.command('time.clear');
    else await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
    const result = await device.connect('tls.connect', {
      host: '127.0.0.1', port: lab.listener(c.listener).port, sni: 'localhost', ca: 'h_ca', cert: 'h_cert', key: 'h_key',
      ...(c.skipCn ? { skip_cn: 1 } : {}),
    });
    const held = result.heap.before - result.heap.after;
    if (result.connected) await device.command('tls.close');
    figures.push({
      scenario: c.scenario, connected: result.connected, error: result.error?.stack_err_name ?? result.error?.esp_err_name ?? null,
      peak: result.heap.peak_used ?? 0, held, source: result.heap.source,
      // Read loosely: a schema that does not know `stack` yet drops it, and the figure is then absent.
      stack: (result as { stack?: { peak_used: number } }).stack?.peak_used ?? null,
    });
  }
  return figures;
}
