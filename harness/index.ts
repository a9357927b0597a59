/**
 * hilt's public API: what scenario files import. Everything a scenario needs comes from here, so
 * the folders behind it can move without touching the catalogue.
 */
export { scenario, ScenarioContext } from './run/session.ts';
export type { Bundle, ConnectOptions, Identity } from './run/session.ts';
export type { HeapSplit } from './run/heap-split.ts';
export { expect, datesUnchecked, describeResult, expectDeviceCertificateRefused } from './run/assertions.ts';
export type { Attempt, Lab } from './lab/index.ts';
export type { ConnectResult, HelloReply } from './protocol/index.ts';
export type { Panic, PanicKind } from './device/log.ts';
export { flagsOf } from './protocol/index.ts';
export { firmwareScenario, FirmwareContext } from './run/firmware-session.ts';
export type { FirmwareSpec } from './run/firmware-session.ts';
export type { Endpoint, EndpointBehaviour, EndpointMaterials, EndpointMqtt, EndpointTls } from './lab/index.ts';
export type { FirmwareDevice, BootIdentity } from './device/firmware.ts';
export * from './firmware/index.ts';
