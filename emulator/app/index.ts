/** The emulated application firmware (a typical esp-mqtt app): its public face. */
export { APP, openAppBoard } from './app.ts';
export type { AppBoard, AppIdentity } from './app.ts';
export { APP_DEFECTS, AppSettingsError, SMALL_IN_CONTENT_LEN, parseAppSettings, parseAppSettingsOverrides } from './settings.ts';
export type { AppDefect, AppSettings, ReconnectPolicy } from './settings.ts';
export { STABLE_MS, reconnectDelayMs } from './policy.ts';
