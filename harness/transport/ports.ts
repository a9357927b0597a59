/**
 * Which serial ports this machine has, and what is behind each (USB VID:PID, serial number,
 * manufacturer, location on the bus), for `hilt ports`, identity targets and error messages.
 *
 * Three ways, best first, and the answer says which was used:
 * 1. serialport's list(), which asks udev (`udevadm`): a normal Linux desktop or bench host.
 * 2. sysfs: /sys/class/tty/<name>/device leads up to the USB device, whose idVendor, idProduct,
 *    serial, manufacturer and product files say the same as udev would (containers and CI
 *    machines often have /sys but no udevadm). The root is injectable so tests read a fixture
 *    tree: HILT_SYSFS_ROOT (and HILT_DEV_ROOT for where the device nodes are).
 * 3. the names in /dev (ttyUSB*, ttyACM*) and /dev/serial/by-id: paths only.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SerialPort } from 'serialport';
import { within } from '../time.ts';

export interface PortInfo {
  path: string;
  /** USB vendor and product id, lower-case hex without 0x ("10c4", "ea60"), when known. */
  vid?: string;
  pid?: string;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
  /** Where it sits on the USB bus: sysfs's device name ("1-1.2"), or udev's location id. */
  location?: string;
}

export type ListedBy = 'udev' | 'sysfs' | 'dev';

export interface PortList {
  ports: PortInfo[];
  by: ListedBy;
  /** How they were found, in words, for `hilt ports` and error messages. */
  source: string;
}

export interface ListOptions {
  /** Where sysfs is mounted (default /sys, or HILT_SYSFS_ROOT); when given, udev is not asked. */
  sysfsRoot?: string;
  /** Where the device nodes are (default /dev, or HILT_DEV_ROOT). */
  devRoot?: string;
  /** Ask udev first (default: yes unless a sysfs root was given). */
  udev?: boolean;
}

const LIST_TIMEOUT_MS = 3_000;
const PATTERNS = '/dev/ttyUSB*, /dev/ttyACM*, /dev/serial/by-id/*';

async function namesIn(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter(keep).sort().map((name) => join(dir, name));
}

/** What /dev holds of USB serial bridges (CP210x, CH340, FTDI: ttyUSB; CDC-ACM: ttyACM). */
export async function globSerialPorts(devRoot = '/dev'): Promise<string[]> {
  const bridges = await namesIn(devRoot, (name) => /^tty(USB|ACM)\d+$/.test(name));
  const byId = await namesIn(join(devRoot, 'serial', 'by-id'), () => true);
  return [...bridges, ...byId];
}

async function udevPorts(): Promise<PortInfo[] | null> {
  // udevadm missing rejects at once; a hung one must not hold up a listing.
  const listed = await within(LIST_TIMEOUT_MS, SerialPort.list().catch(() => null));
  if (listed === 'timeout' || listed === null) return null;
  return listed.map((p) => clean({
    path: p.path, vid: p.vendorId?.toLowerCase(), pid: p.productId?.toLowerCase(), serialNumber: p.serialNumber,
    manufacturer: p.manufacturer, location: p.locationId,
  }));
}

function clean(info: { [K in keyof PortInfo]: PortInfo[K] | undefined }): PortInfo {
  return Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined && v !== '')) as unknown as PortInfo;
}

const attr = (dir: string, name: string) => readFile(join(dir, name), 'utf8').then((t) => t.trim() || undefined, () => undefined);

/** The USB device above a tty's device link: the first folder upwards with an idVendor file. */
async function usbDeviceOf(ttyDir: string, sysfsRoot: string): Promise<string | null> {
  let dir = await realpath(join(ttyDir, 'device')).catch(() => null);
  for (let depth = 0; dir && dir.startsWith(sysfsRoot) && depth < 8; depth++, dir = dirname(dir)) {
    if (await attr(dir, 'idVendor')) return dir;
  }
  return null;
}

async function sysfsPorts(sysfsRoot: string, devRoot: string): Promise<PortInfo[] | null> {
  const classDir = join(sysfsRoot, 'class', 'tty');
  const names = await readdir(classDir).catch(() => null);
  if (names === null) return null;
  const root = await realpath(sysfsRoot).catch(() => sysfsRoot);
  const ports: PortInfo[] = [];
  for (const name of names.sort()) {
    // Only USB ttys: the 32 legacy ttyS ports and the consoles are no board's bridge.
    const usb = await usbDeviceOf(join(classDir, name), root);
    if (!usb) continue;
    ports.push(clean({
      path: join(devRoot, name), vid: (await attr(usb, 'idVendor'))?.toLowerCase(), pid: (await attr(usb, 'idProduct'))?.toLowerCase(),
      serialNumber: await attr(usb, 'serial'), manufacturer: await attr(usb, 'manufacturer'), product: await attr(usb, 'product'),
      location: basename(usb),
    }));
  }
  return ports;
}

export async function listPorts(options: ListOptions = {}): Promise<PortList> {
  const sysfsRoot = options.sysfsRoot ?? process.env.HILT_SYSFS_ROOT;
  const devRoot = options.devRoot ?? process.env.HILT_DEV_ROOT ?? '/dev';
  if (options.udev ?? sysfsRoot === undefined) {
    const ports = await udevPorts();
    if (ports !== null) return { ports, by: 'udev', source: 'listed by udev' };
  }
  const root = sysfsRoot ?? '/sys';
  const fromSysfs = await sysfsPorts(root, devRoot);
  if (fromSysfs !== null) {
    return { ports: fromSysfs, by: 'sysfs', source: `read from ${join(root, 'class', 'tty')} (udevadm, which lists ports properly, is not available)` };
  }
  const paths = await globSerialPorts(devRoot);
  return { ports: paths.map((path) => ({ path })), by: 'dev', source: `looked for ${PATTERNS}; neither udevadm nor sysfs is available, so only paths are known` };
}

export interface FoundPorts {
  paths: string[];
  /** How they were found, in words. */
  source: string;
}

/** Port paths and how they were found, for an error message about a missing port. */
export async function findSerialPorts(options: ListOptions = {}): Promise<FoundPorts> {
  const list = await listPorts(options);
  return { paths: list.ports.map((p) => p.path), source: list.source };
}
