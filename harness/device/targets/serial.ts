/** `serial:/dev/ttyUSB0[?baud=115200&reset=none&mode=firmware]`: a board on a serial port (USB bridge, pty). */
import { UsageError } from '../../errors.ts';
import type { SerialTransport } from '../../transport/serial.ts';
import type { TargetKind } from './target.ts';
import { intOption, modeOption, resetOption, targetOptions } from './options.ts';

export const serialTarget: TargetKind = {
  kind: 'serial',
  summary: 'serial:/dev/ttyUSB0[?baud=115200&reset=none&mode=firmware]  a board on a serial port',
  parse(rest, query, url) {
    if (!rest.startsWith('/')) throw new UsageError(`target ${url}: give the port's path, e.g. serial:/dev/ttyUSB0`);
    const o = targetOptions(url, query, ['baud', 'reset', 'mode']);
    const baudRate = intOption(url, 'baud', o.get('baud'), 115_200, 300, 5_000_000);
    const reset = resetOption(url, o.get('reset'));
    const mode = modeOption(url, o.get('mode'));
    let opened: SerialTransport | null = null;
    return {
      url, kind: 'serial', reset, mode,
      description: `serial ${rest} at ${baudRate} baud`,
      // serialport loads only when a serial target is used.
      transport: async () => {
        opened = new (await import('../../transport/serial.ts')).SerialTransport({ path: rest, baudRate });
        return opened;
      },
      close: async () => {},
      // A firmware board is reset as esptool's hard reset does, unless reset=none said not to;
      // a pseudo-terminal (an emulated or forwarded board) has no modem lines to pulse.
      ...(mode === 'firmware' && reset === 'agent' ? {
        async resetDevice() {
          if (!opened?.isOpen || !opened.capabilities.lineControl) return false;
          await opened.hardReset();
          return true;
        },
      } : {}),
    };
  },
};
