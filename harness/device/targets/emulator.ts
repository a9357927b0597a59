/**
 * `emulator[:?sdkconfig=FILE&heap=BYTES&realtime=1]`: hilt's emulated ESP32 running the test agent,
 * in this process; `emulator:?firmware=app[&settings=FILE]`: the same board running a typical
 * esp-mqtt application instead (firmware mode), pointed at the lab's endpoint; `&defect=NAME[,NAME]`
 * builds it with deliberate defects (docs/emulator.md), on top of any the settings file names.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  APP_DEFECTS, AppSettingsError, openAppBoard, openStreamBoard, parseAppSettingsOverrides, readSdkconfigFile, SdkconfigError, SdkconfigFileError,
  type AppBoard, type AppDefect, type AppSettings, type BoardSettings, type StreamBoard,
} from '../../../emulator/index.ts';
import { UsageError, errnoOf, printable, quoted } from '../../errors.ts';
import { MemoryTransport } from '../../transport/memory.ts';
import type { DeviceMaterials, Target, TargetKind } from './target.ts';
import { boolOption, intOption, modeOption, targetOptions } from './options.ts';

function sdkconfigFrom(url: string, path: string): BoardSettings['sdkconfig'] {
  try {
    return readSdkconfigFile(path);
  } catch (err) {
    if (err instanceof SdkconfigFileError) throw new UsageError(`target ${url}: ${err.message}`);
    if (err instanceof SdkconfigError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The emulated app's time scale unless its settings file says otherwise: esp-mqtt's 10 s
 * reconnect wait becomes 0.5 s, so the firmware catalogue runs in seconds on CI.
 */
export const CI_TIME_SCALE = 0.05;

const MAX_SETTINGS_BYTES = 1024 * 1024;

/** The settings file's JSON object (its values win over the endpoint's: a test may aim the app elsewhere). */
function settingsFile(url: string, path: string): Record<string, unknown> {
  let text: string;
  try {
    // Looked at before reading: a named pipe would block the run, a device never end.
    const info = statSync(path);
    if (!info.isFile()) throw new UsageError(`target ${url}: settings file ${quoted(path)} is not a regular file: give a JSON file of app settings`);
    if (info.size > MAX_SETTINGS_BYTES) throw new UsageError(`target ${url}: settings file ${quoted(path)} is ${info.size} bytes, over the ${MAX_SETTINGS_BYTES}-byte limit: give a JSON file of app settings`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`target ${url}: settings file ${quoted(path)} cannot be read (${errnoOf(err)}): give a JSON file of app settings`);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`target ${url}: settings file ${quoted(path)} is not a JSON object (${printable((err as Error).message)}): fix the file`);
  }
}

/** The settings file's overrides, checked now: a bad file stops the run before anything starts. */
function overridesFrom(url: string, path: string): Partial<AppSettings> {
  const json = settingsFile(url, path);
  try {
    const parsed = parseAppSettingsOverrides(json, `settings file ${path}`);
    // Only what the file says: the endpoint's values stand for the rest.
    return Object.fromEntries(Object.keys(json).map((k) => [k, parsed[k as keyof AppSettings]])) as Partial<AppSettings>;
  } catch (err) {
    if (err instanceof AppSettingsError) throw new UsageError(`target ${url}: ${printable(err.message)}`, { cause: err });
    throw err;
  }
}

/** `defect=a,b`: each one a defect of the app, checked now. */
function defectsFrom(url: string, value: string): AppDefect[] {
  const names = value.split(',');
  for (const name of names) {
    if (!(APP_DEFECTS as readonly string[]).includes(name)) {
      throw new UsageError(`target ${url}: defect=${printable(value)}: ${JSON.stringify(name)} is not a defect of the app; known: ${APP_DEFECTS.join(', ')}`);
    }
  }
  return names as AppDefect[];
}

function appTarget(url: string, o: Map<string, string>): Target {
  for (const key of ['sdkconfig', 'heap', 'realtime']) {
    if (o.has(key)) throw new UsageError(`target ${url}: ${key} is an option of the agent emulator: firmware=app takes settings=FILE and defect=NAME (and mode=firmware)`);
  }
  const path = o.get('settings');
  const overrides = path === undefined ? {} : overridesFrom(url, path);
  const defect = o.get('defect');
  if (defect !== undefined) overrides.defects = [...new Set([...(overrides.defects ?? []), ...defectsFrom(url, defect)])];
  let settings: AppSettings | null = null;
  let board: AppBoard | null = null;
  return {
    url, kind: 'emulator', reset: 'agent', mode: 'firmware',
    description: `emulated ESP32 running an esp-mqtt application${path ? ` (${path})` : ''}${defect ? ` with defect ${defect}` : ''}`,
    provision(m: DeviceMaterials) {
      settings = {
        timeScale: CI_TIME_SCALE, brokerUri: m.uri, caPem: m.caBundlePem, certPem: m.certPem, keyPem: m.keyPem, clientId: m.clientId,
        ...overrides,
      };
    },
    async transport() {
      if (!settings) throw new UsageError(`target ${url}: the emulated application was not given the endpoint's settings`);
      await board?.close();
      board = openAppBoard(settings);
      return new MemoryTransport(board.stream, 'emulated ESP32 (application firmware)');
    },
    async resetDevice() {
      if (!board) return false;
      await board.reset();
      return true;
    },
    async close() {
      await board?.close();
      board = null;
    },
  };
}

export const emulatorTarget: TargetKind = {
  kind: 'emulator',
  summary: 'emulator[:?sdkconfig=FILE&heap=BYTES&realtime=1 | :?firmware=app&settings=FILE&defect=NAME]  hilt\'s emulated ESP32 (default)',
  parse(rest, query, url) {
    if (rest !== '') throw new UsageError(`target ${url}: write options as emulator:?sdkconfig=FILE`);
    const o = targetOptions(url, query, ['sdkconfig', 'heap', 'realtime', 'firmware', 'settings', 'defect', 'mode']);
    const firmware = o.get('firmware');
    if (firmware !== undefined && firmware !== 'app') {
      throw new UsageError(`target ${url}: firmware=${firmware}: the emulator has one application firmware: firmware=app`);
    }
    // The agent emulator cannot run in firmware mode, nor the app in agent mode: the mode follows firmware=.
    const mode = modeOption(url, o.get('mode'), firmware === 'app' ? 'firmware' : 'agent');
    if (firmware === 'app' && mode === 'agent') throw new UsageError(`target ${url}: firmware=app runs the board's own application: drop mode=agent`);
    if (mode === 'firmware' || firmware === 'app') return appTarget(url, o);
    for (const option of ['settings=FILE', 'defect=NAME']) {
      if (o.has(option.split('=')[0]!)) throw new UsageError(`target ${url}: ${option} is for the application firmware: add firmware=app`);
    }
    const settings: BoardSettings = {
      realtime: boolOption(url, 'realtime', o.get('realtime'), false, 'as slow as the modelled ESP32'),
      ...(o.has('heap') ? { heapBytes: intOption(url, 'heap', o.get('heap'), 0, 16_384, 8 * 1024 * 1024) } : {}),
      ...(o.has('sdkconfig') ? { sdkconfig: sdkconfigFrom(url, o.get('sdkconfig')!) } : {}),
    };
    let board: StreamBoard | null = null;
    return {
      url, kind: 'emulator', reset: 'agent', mode: 'agent',
      description: `emulated ESP32${o.has('sdkconfig') ? ` (${o.get('sdkconfig')})` : ''}`,
      async transport() {
        await board?.close();
        board = openStreamBoard(settings);
        return new MemoryTransport(board.stream, `emulated ESP32 ${board.board.id}`);
      },
      async close() {
        await board?.close();
        board = null;
      },
    };
  },
};
