/** How bytes reach a device: the contract (transport.ts) and one file per kind of endpoint. */
export { TransportError } from './transport.ts';
export type { CloseInfo, ModemLines, Transport, TransportCapabilities, TransportKind } from './transport.ts';
export { MemoryTransport } from './memory.ts';
export { ProcessTransport } from './process.ts';
export type { ProcessOptions } from './process.ts';
export { Rfc2217Transport } from './rfc2217.ts';
export type { Rfc2217Options } from './rfc2217.ts';
export { SerialTransport, explainOpenFailure } from './serial.ts';
export type { SerialOptions } from './serial.ts';
export { TcpTransport } from './tcp.ts';
export type { TcpOptions } from './tcp.ts';
export { findSerialPorts, globSerialPorts } from './ports.ts';
export type { FoundPorts } from './ports.ts';
