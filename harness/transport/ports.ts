/**
 * Which serial ports this machine has, for error messages (and later `hilt ports`).
 * serialport's list() asks udev (`udevadm`), which containers and CI machines often lack; then
 * the usual device names are read from /dev instead, and the answer says which way it was found.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

export interface FoundPorts {
  paths: string[];
  /** How they were found, in words: "listed by udev" or the /dev patterns that were looked at. */
  source: string;
}

const LIST_TIMEOUT_MS = 3_000;
const PATTERNS = '/dev/ttyUSB*, /dev/ttyACM*, /dev/serial/by-id/*';

async function namesIn(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter(keep).sort().map((name) => join(dir, name));
}

/** What /dev holds of USB serial bridges (CP210x, CH340, FTDI: ttyUSB; CDC-ACM: ttyACM). */
export async function globSerialPorts(): Promise<string[]> {
  const bridges = await namesIn('/dev', (name) => /^tty(USB|ACM)\d+$/.test(name));
  const byId = await namesIn('/dev/serial/by-id', () => true);
  return [...bridges, ...byId];
}

export async function findSerialPorts(): Promise<FoundPorts> {
  let timer: NodeJS.Timeout | undefined;
  // udevadm missing rejects at once; a hung one must not hold up an error message.
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), LIST_TIMEOUT_MS); });
  const listed = await Promise.race([SerialPort.list().then((ports) => ports.map((p) => p.path), () => null), timeout]);
  clearTimeout(timer);
  if (listed !== null) return { paths: listed, source: 'listed by udev' };
  return { paths: await globSerialPorts(), source: `looked for ${PATTERNS}; udevadm, which lists ports properly, is not available` };
}
