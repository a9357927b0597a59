/** `hilt ports` as a bench engineer runs it, on a fixture sysfs tree standing in for USB bridges. */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HILT_BIN, run, tempDir } from '../helpers.ts';
import { writeUsbSysfs } from '../transport/usb-fixture.ts';

const ports = (args: string[], env: Record<string, string>) => run(process.execPath, [HILT_BIN, 'ports', ...args], { env: { ...process.env, ...env } });

describe('hilt ports', function () {
  this.timeout(30_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  let env: Record<string, string>;

  before(async function () {
    tmp = await tempDir();
    await writeUsbSysfs(join(tmp.dir, 'sys'), [
      { tty: 'ttyUSB0', vid: '10c4', pid: 'ea60', serial: '0001', manufacturer: 'Silicon Labs', location: '1-1.2' },
      { tty: 'ttyACM0', vid: '303a', pid: '1001', serial: 'F4:12:FA:00:00:01', manufacturer: 'Espressif', location: '1-1.4' },
      { tty: 'ttyACM1', vid: '2e8a', pid: '000a', location: '1-1.5' },
    ]);
    env = { HILT_SYSFS_ROOT: join(tmp.dir, 'sys'), HILT_DEV_ROOT: '/dev' };
  });

  after(async function () {
    await tmp.remove();
  });

  it('lists each port with VID:PID, serial number, manufacturer, location, bridge, and the target to use', async function () {
    const { code, stdout, stderr } = await ports([], env);
    expect(code, stderr).to.equal(0);
    expect(stdout.split('\n')).to.deep.equal([
      '/dev/ttyACM0  303a:1001  serial F4:12:FA:00:00:01  Espressif  at 1-1.4  Espressif USB-Serial/JTAG (ESP32-C3/C6/H2/S3 built-in USB; re-enumerates on reset)',
      '    --target serial:?serial_number=F4%3A12%3AFA%3A00%3A00%3A01',
      '/dev/ttyACM1  2e8a:000a  at 1-1.5  unknown bridge',
      '    --target serial:/dev/ttyACM1',
      '/dev/ttyUSB0  10c4:ea60  serial 0001  Silicon Labs  at 1-1.2  Silicon Labs CP210x (ESP32 DevKitC and most ESP32 boards)',
      '    --target serial:?serial_number=0001',
      `3 serial ports (read from ${tmp.dir}/sys/class/tty (udevadm, which lists ports properly, is not available))`,
      '',
    ]);
  });

  it('--json gives how they were listed and every field', async function () {
    const { code, stdout } = await ports(['--json'], env);
    expect(code).to.equal(0);
    const json = JSON.parse(stdout) as { listedBy: string; ports: Array<Record<string, string>> };
    expect(json.listedBy).to.equal('sysfs');
    expect(json.ports.find((p) => p.path === '/dev/ttyUSB0')).to.deep.equal({
      path: '/dev/ttyUSB0', vid: '10c4', pid: 'ea60', serialNumber: '0001', manufacturer: 'Silicon Labs', location: '1-1.2',
      bridge: 'Silicon Labs CP210x', family: 'ESP32 DevKitC and most ESP32 boards', target: 'serial:?serial_number=0001',
    });
  });

  it('without udev or sysfs, falls back to /dev/serial/by-id and says only paths are known', async function () {
    const dev = join(tmp.dir, 'dev');
    await mkdir(join(dev, 'serial', 'by-id'), { recursive: true });
    await writeFile(join(dev, 'serial', 'by-id', 'usb-Silicon_Labs_CP2102_0001-if00-port0'), '');
    const { code, stdout } = await ports([], { HILT_SYSFS_ROOT: join(tmp.dir, 'none'), HILT_DEV_ROOT: dev });
    expect(code).to.equal(0);
    expect(stdout).to.include(`${dev}/serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0  no USB identity`);
    expect(stdout).to.match(/1 serial port \(looked for .*neither udevadm nor sysfs is available, so only paths are known\)\n$/);
  });

  it('refuses an unknown option with exit 2', async function () {
    const { code, stderr } = await ports(['--all'], env);
    expect(code).to.equal(2);
    expect(stderr.trim().split('\n')).to.have.length(1);
  });
});
