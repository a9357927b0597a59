/** `emulator[:?sdkconfig=FILE&heap=BYTES&realtime=1]`: hilt's emulated ESP32, in this process. */
import { openStreamBoard, readSdkconfigFile, SdkconfigError, SdkconfigFileError, type BoardSettings, type StreamBoard } from '../../../emulator/index.ts';
import { UsageError } from '../../errors.ts';
import { MemoryTransport } from '../../transport/memory.ts';
import type { TargetKind } from './target.ts';
import { boolOption, intOption, targetOptions } from './options.ts';

function sdkconfigFrom(url: string, path: string): BoardSettings['sdkconfig'] {
  try {
    return readSdkconfigFile(path);
  } catch (err) {
    if (err instanceof SdkconfigFileError) throw new UsageError(`target ${url}: ${err.message}`);
    if (err instanceof SdkconfigError) throw new UsageError(err.message);
    throw err;
  }
}

export const emulatorTarget: TargetKind = {
  kind: 'emulator',
  summary: 'emulator[:?sdkconfig=FILE&heap=BYTES&realtime=1]  hilt\'s emulated ESP32 (default)',
  parse(rest, query, url) {
    if (rest !== '') throw new UsageError(`target ${url}: write options as emulator:?sdkconfig=FILE`);
    const o = targetOptions(url, query, ['sdkconfig', 'heap', 'realtime']);
    const settings: BoardSettings = {
      realtime: boolOption(url, 'realtime', o.get('realtime'), false, 'as slow as the modelled ESP32'),
      ...(o.has('heap') ? { heapBytes: intOption(url, 'heap', o.get('heap'), 0, 16_384, 8 * 1024 * 1024) } : {}),
      ...(o.has('sdkconfig') ? { sdkconfig: sdkconfigFrom(url, o.get('sdkconfig')!) } : {}),
    };
    let board: StreamBoard | null = null;
    return {
      url, kind: 'emulator', reset: 'agent',
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
