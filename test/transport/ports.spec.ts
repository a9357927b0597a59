/** The port lister on a fixture sysfs tree (a stand-in for USB bridges), and its fallbacks. */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listPorts } from '../../harness/transport/ports.ts';
import { tempDir } from '../helpers.ts';
import { writeUsbSysfs } from './usb-fixture.ts';

describe('port listing', function () {
  it('reads USB identity from sysfs: VID:PID, serial, manufacturer, product, bus location; skips non-USB ttys', async function () {
    const tmp = await tempDir();
    try {
      await writeUsbSysfs(tmp.dir, [
        { tty: 'ttyUSB0', vid: '10C4', pid: 'ea60', serial: '0001', manufacturer: 'Silicon Labs', product: 'CP2102 USB to UART Bridge Controller', location: '1-1.2' },
        { tty: 'ttyACM0', vid: '303a', pid: '1001', serial: '84:F7:03:12:34:56', manufacturer: 'Espressif', location: '1-1.4' },
      ]);
      const list = await listPorts({ sysfsRoot: tmp.dir, devRoot: '/dev' });
      expect(list.by).to.equal('sysfs');
      expect(list.source).to.equal(`read from ${tmp.dir}/class/tty (udevadm, which lists ports properly, is not available)`);
      expect(list.ports).to.deep.equal([
        { path: '/dev/ttyACM0', vid: '303a', pid: '1001', serialNumber: '84:F7:03:12:34:56', manufacturer: 'Espressif', location: '1-1.4' },
        { path: '/dev/ttyUSB0', vid: '10c4', pid: 'ea60', serialNumber: '0001', manufacturer: 'Silicon Labs', product: 'CP2102 USB to UART Bridge Controller', location: '1-1.2' },
      ]);
    } finally {
      await tmp.remove();
    }
  });

  it('falls back to the names in /dev when there is no sysfs either, and says only paths are known', async function () {
    const tmp = await tempDir();
    try {
      const dev = join(tmp.dir, 'dev');
      await mkdir(join(dev, 'serial', 'by-id'), { recursive: true });
      for (const name of ['ttyUSB0', 'ttyS0', 'tty1', 'serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0']) await writeFile(join(dev, name), '');
      const list = await listPorts({ sysfsRoot: join(tmp.dir, 'no-sys'), devRoot: dev });
      expect(list.by).to.equal('dev');
      expect(list.source).to.match(/^looked for \/dev\/ttyUSB\*, \/dev\/ttyACM\*, \/dev\/serial\/by-id\/\*; neither udevadm nor sysfs/);
      expect(list.ports).to.deep.equal([{ path: join(dev, 'ttyUSB0') }, { path: join(dev, 'serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0') }]);
    } finally {
      await tmp.remove();
    }
  });

  it('on this machine, says how it listed', async function () {
    const list = await listPorts();
    expect(['udev', 'sysfs', 'dev']).to.include(list.by);
    for (const p of list.ports) expect(p.path).to.match(/^\//);
  });
});
