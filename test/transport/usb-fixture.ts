/**
 * A stand-in for USB serial hardware: a sysfs tree laid out as Linux lays it out for USB bridges
 * (/sys/class/tty/<name>/device -> .../usb1/<bus location>/<interface>/..., the USB device's
 * idVendor, idProduct, serial, manufacturer and product files), plus the non-USB ttys every
 * machine has. The port lister reads it through HILT_SYSFS_ROOT / its sysfsRoot option.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface FakeUsbPort {
  /** ttyUSB0 (a usb-serial driver: CP210x, CH340, FTDI) or ttyACM0 (CDC-ACM: USB-Serial/JTAG). */
  tty: string;
  vid: string;
  pid: string;
  serial?: string;
  manufacturer?: string;
  product?: string;
  /** Its place on the bus, as sysfs names the USB device: "1-1.2". */
  location: string;
}

export async function writeUsbSysfs(root: string, ports: FakeUsbPort[]): Promise<void> {
  const classTty = join(root, 'class', 'tty');
  await mkdir(classTty, { recursive: true });
  const link = async (target: string, at: string) => symlink(relative(join(at, '..'), target), at);
  for (const p of ports) {
    const usb = join(root, 'devices', 'pci0000:00', '0000:00:14.0', 'usb1', p.location);
    const iface = join(usb, `${p.location}:1.0`);
    // usb-serial drivers put a ttyUSBn device under the interface; cdc_acm makes the interface the device.
    const device = p.tty.startsWith('ttyUSB') ? join(iface, p.tty) : iface;
    const ttyDir = join(device, 'tty', p.tty);
    await mkdir(ttyDir, { recursive: true });
    await writeFile(join(usb, 'idVendor'), `${p.vid}\n`);
    await writeFile(join(usb, 'idProduct'), `${p.pid}\n`);
    if (p.serial !== undefined) await writeFile(join(usb, 'serial'), `${p.serial}\n`);
    if (p.manufacturer !== undefined) await writeFile(join(usb, 'manufacturer'), `${p.manufacturer}\n`);
    if (p.product !== undefined) await writeFile(join(usb, 'product'), `${p.product}\n`);
    await link(device, join(ttyDir, 'device'));
    await link(ttyDir, join(classTty, p.tty));
  }
  // What every machine has besides: a legacy UART on the platform bus, and a console with no device.
  const ttyS0 = join(root, 'devices', 'platform', 'serial8250', 'tty', 'ttyS0');
  await mkdir(ttyS0, { recursive: true });
  await link(join(root, 'devices', 'platform', 'serial8250'), join(ttyS0, 'device'));
  await link(ttyS0, join(classTty, 'ttyS0'));
  await mkdir(join(root, 'devices', 'virtual', 'tty', 'console'), { recursive: true });
  await link(join(root, 'devices', 'virtual', 'tty', 'console'), join(classTty, 'console'));
}
