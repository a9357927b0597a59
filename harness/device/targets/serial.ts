/** `serial:/dev/ttyUSB0[?baud=115200&reset=none]`: a board on a serial port (USB bridge, pty). */
import { UsageError } from '../../errors.ts';
import type { TargetKind } from './target.ts';
import { intOption, resetOption, targetOptions } from './options.ts';

export const serialTarget: TargetKind = {
  kind: 'serial',
  summary: 'serial:/dev/ttyUSB0[?baud=115200&reset=none]  a board on a serial port',
  parse(rest, query, url) {
    if (!rest.startsWith('/')) throw new UsageError(`target ${url}: give the port's path, e.g. serial:/dev/ttyUSB0`);
    const o = targetOptions(url, query, ['baud', 'reset']);
    const baudRate = intOption(url, 'baud', o.get('baud'), 115_200, 300, 5_000_000);
    return {
      url, kind: 'serial', reset: resetOption(url, o.get('reset')),
      description: `serial ${rest} at ${baudRate} baud`,
      // serialport loads only when a serial target is used.
      transport: async () => new (await import('../../transport/serial.ts')).SerialTransport({ path: rest, baudRate }),
      close: async () => {},
    };
  },
};
