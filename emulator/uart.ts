/**
 * The serial side of an emulated board, as a USB-serial bridge sees it: bytes both ways, the two
 * modem lines a host drives (DTR and RTS), and the line rate. A transport or a server (TCP, a
 * pseudo-terminal, RFC 2217) serves a UartPeer; the board behind it decides what the lines do.
 */
export interface UartPeer {
  /** Bytes from the host to the board's RX pin. */
  input(bytes: Buffer): void;
  /** Registers the receiver of the board's TX bytes. */
  onOutput(cb: (bytes: Buffer) => void): void;
  /** The host's modem lines, both in one step (true = asserted, esptool's 1). */
  setLines(l: { dtr: boolean; rts: boolean }): void;
  /** The host's line rate in baud. */
  setBaudRate(b: number): void;
  /** Drops bytes buffered on their way (RFC 2217 PURGE). */
  purge?(): void;
}
