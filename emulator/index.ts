/**
 * The emulated ESP32's public entry: the harness starts boards through this file only, like any
 * other target.
 */
export { AGENT, Board, FIRMWARE } from './board.ts';
export type { BoardOptions } from './board.ts';
export { chipFor, openChipBoard, openStreamBoard, PtyPathTakenError, servePty, serveRfc2217Board, serveStdio, serveTcp, SocatMissingError } from './serve.ts';
export type { BoardSettings, ChipBoard, ChipSettings, PtyBoard, StreamBoard, TcpBoard } from './serve.ts';
export type { UartPeer } from './uart.ts';
export { Esp32Chip, EN_RC_DELAY_MS } from './chip/esp32.ts';
export type { BootDecision, ChipOptions, ChipState, TraceEntry } from './chip/esp32.ts';
export { Flash, FLASH_BYTES } from './chip/flash.ts';
export { serveRfc2217 } from './rfc2217.ts';
export type { Rfc2217Server, Rfc2217Settings } from './rfc2217.ts';
export { CALIBRATION, ESP32_FREE_HEAP, planConnection } from './heap.ts';
export { CRYPTO_MS, handshakeCryptoMs } from './timing.ts';
export { parseSdkconfig, REFERENCE_SDKCONFIG, SdkconfigError } from './mbedtls/index.ts';
export type { Sdkconfig } from './mbedtls/index.ts';
export { MAX_SDKCONFIG_BYTES, readSdkconfigFile, SdkconfigFileError } from './sdkconfig-file.ts';
export { APP, APP_DEFECTS, AppSettingsError, openAppBoard, parseAppSettings, parseAppSettingsOverrides } from './app/index.ts';
export type { AppBoard, AppDefect, AppIdentity, AppSettings, ReconnectPolicy } from './app/index.ts';
