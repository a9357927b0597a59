/**
 * The stack of the agent's connect task, modelled (docs/emulator.md, "Stack model"). A real
 * agent runs each connect in a FreeRTOS task of `stack=` bytes (default 8192) and reads its
 * high-water mark; the emulator has no such stack, so it adds up what each step of a connect
 * puts on it at its deepest, and when that is more than the task has, it overflows as
 * FreeRTOS reports it: the panic text, then a reboot.
 */

/** The task's name, as the panic line gives it. */
export const CONNECT_TASK = 'hilt_connect';
/** CONFIG_HILT_AGENT_CONNECT_STACK's default, which the host agent and the emulator use too. */
export const CONNECT_STACK_DEFAULT = 8192;
/** What `stack=` takes (docs/protocol.md). */
export const CONNECT_STACK_RANGE = { min: 2048, max: 65536 } as const;

/**
 * Bytes on the stack at the deepest point of each step, over the task's own frames (`task`).
 * Calibrated from the host agent (the real Mbed TLS 3.6.6, built 32-bit, connect thread of a
 * painted stack; docs/fidelity.md, "Stack"): a mutual-TLS connect peaks at 3,340 B, an MQTT
 * connect at 3,372 B, and any connect esp-tls fails at 3,604 B, as its error lines (ESP_LOGE's
 * vprintf) reach deeper than the handshake. Only those totals are measured: how they split into
 * the task's frames and each step is this table's, and TCP and setup are estimates no figure
 * checks (they never decide the peak). Espressif's yardsticks (3.6 KB for Mbed TLS's task
 * stack, 5-6 KB per session: ESP32-FACTS section 7) are for Xtensa, whose register windows make
 * frames bigger than x86's, so a board's figure can be higher than the model's.
 */
export const STACK_MODEL = {
  /** The connect task's own frames: the agent's command handling and esp_tls_conn_new's. */
  task: 1152,
  /** DNS and the TCP connect: lwIP's getaddrinfo, connect and select (not measured apart). */
  tcp: 448,
  /** esp-tls building its handle: the CA store, the own certificate and key parsed (not measured apart). */
  setup: 704,
  /** mbedtls_ssl_handshake at its deepest: the chain parsed and verified, ECDHE, CertificateVerify signed. */
  handshake: 2188,
  /** esp-mqtt's CONNECT and CONNACK over the open session (mbedtls_ssl_write and _read). */
  mqtt: 2220,
  /** esp-tls's failure path printing its error lines (ESP_LOGE, vprintf), when the board logs errors. */
  tlsError: 2452,
} as const;

export type StackStep = 'tcp' | 'setup' | 'handshake' | 'mqtt' | 'tlsError';

/**
 * The stack in use at the deepest point of `step`, in bytes. A connect without a client
 * certificate is modelled the same: what signing CertificateVerify adds was never measured apart
 * (every lab connect the figures come from is mutual).
 */
export function stackAt(step: StackStep): number {
  return STACK_MODEL.task + STACK_MODEL[step];
}

/** The connect task ran out of stack at `step`: the agent does not reply, the board panics. */
export class StackOverflow extends Error {
  constructor(readonly task: string, readonly size: number, readonly needed: number, readonly step: StackStep) {
    super(`stack overflow in task ${task}: ${step} needs ${needed} B, the task has ${size} B`);
    this.name = 'StackOverflow';
  }
}

/**
 * ESP-IDF's panic text for a stack overflow FreeRTOS detected (CONFIG_FREERTOS_CHECK_STACKOVERFLOW
 * with the canary), up to the reboot: the ROM's reset line follows from the boot.
 */
export function stackOverflowPanic(task: string, elfSha256: string | null): string[] {
  return [
    `***ERROR*** A stack overflow in task ${task} has been detected.`,
    '',
    '',
    'Backtrace: 0x40081a2e:0x3ffb9c60 0x40088e21:0x3ffb9c80 0x4008c9e6:0x3ffb9ca0 0x4008a0a3:0x3ffb9d20 0x400d6b57:0x3ffb9d40 |<-CORRUPTED',
    '',
    '',
    '',
    '',
    `ELF file SHA256: ${(elfSha256 ?? '0'.repeat(64)).slice(0, 16)}`,
    '',
    'Rebooting...',
  ];
}
