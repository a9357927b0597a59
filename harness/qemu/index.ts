/** Espressif's QEMU as a device: launcher and QMP client (see README.md). */
export { QEMU_PROGRAM, QemuError, QemuInstance, WHERE_TO_GET_QEMU, defaultEsp32Efuse, describeExit, findQemu, qemuArgs, startQemu } from './launcher.ts';
export type { QemuArgsOptions, QemuExit, QemuFiles, QemuOptions } from './launcher.ts';
export { QmpClient, QmpError } from './qmp.ts';
export type { QmpEvent, QmpOptions } from './qmp.ts';
