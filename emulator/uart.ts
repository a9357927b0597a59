/**
 * The far side of a UART as the emulator's servers see it: bytes in and out, the two modem lines
 * a USB bridge drives, and the line rate. A server (emulator/rfc2217.ts) serves any UartPeer; the
 * emulated chip implements one.
 */
export interface UartPeer {
  /** Bytes the host sent. */
  input(bytes: Buffer): void;
  /** Registers the one receiver of the bytes the chip sends. */
  onOutput(cb: (bytes: Buffer) => void): void;
  /** Both modem lines at once; true = asserted (pin at 0 V), as esptool counts them. */
  setLines(l: { dtr: boolean; rts: boolean }): void;
  setBaudRate(b: number): void;
  /** Drops bytes queued in the UART (RFC 2217 PURGE-DATA). */
  purge?(): void;
}
