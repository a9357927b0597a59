/**
 * What the ESP32's ROM and an ESP-IDF app print at boot, read back into facts: the reset reason
 * and boot mode from the ROM's `rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)` line
 * (download mode: `boot:0x3 (DOWNLOAD_BOOT(...))`, then `waiting for download`), and the ELF
 * SHA-256 an app prints (`app_init: ELF file SHA256: …` in ESP-IDF v5, `cpu_start:` in v4).
 * Pure code: the emulator and the harness both read it.
 */

export interface BootLine {
  /** `rst:0xN`: 1 POWERON (also an EN reset), 3 SW, 5 DEEPSLEEP, 0xC SW_CPU, 0xF brown-out, … */
  resetCode: number;
  /** The name in brackets after the reset code (POWERON_RESET), or '' when the ROM gave none. */
  resetName: string;
  /** `boot:0xN`: the strapping pins' boot mode (0x13 SPI fast flash boot, 0x3 UART download). */
  bootCode: number;
  /** The chip sits in the ROM's serial loader rather than booting from flash. */
  download: boolean;
}

const BOOT_LINE = /rst:(0x[0-9a-f]+)(?:\s*\(([A-Z0-9_]+)\))?\s*,\s*boot:(0x[0-9a-f]+)(?:\s*\(([^)]*\)?)\))?/i;

/**
 * The ROM names its boot mode (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2) for 0x3), and the name
 * is what counts. Without one, the strapping value decides: GPIO0 is bit 4 of it, low = the
 * download family (0x1-0x7), high = a flash boot (0x13, 0x1b, ...).
 */
function isDownloadBoot(code: number, name: string): boolean {
  if (name !== '') return /DOWNLOAD/i.test(name);
  return (code & 0x10) === 0 && code >= 0x1 && code <= 0x7;
}

/** The ROM's reset/boot line, or null for any other line (garbage, an app's log, half a line). */
export function parseBootLine(line: string): BootLine | null {
  const m = BOOT_LINE.exec(line);
  if (!m) return null;
  const resetCode = Number.parseInt(m[1]!, 16);
  const bootCode = Number.parseInt(m[3]!, 16);
  const bootName = m[4] ?? '';
  return { resetCode, resetName: m[2] ?? '', bootCode, download: isDownloadBoot(bootCode, bootName) || /waiting for download/i.test(line) };
}

/** The ROM's second line in download mode (esptool's regex looks for it after the boot line). */
export function isWaitingForDownload(line: string): boolean {
  return /waiting for download/i.test(line);
}

const ELF_SHA = /(?:app_init|cpu_start):\s*ELF file SHA256:\s*([0-9a-f]{8,64})(?:\.\.\.)?\s*$/i;

/**
 * The ELF SHA-256 an ESP-IDF app prints at boot, lower case. Only a PREFIX of it as a rule: the
 * app prints CONFIG_APP_RETRIEVE_LEN_ELF_SHA characters (9 by default in v5, then "...", e.g.
 * `ELF file SHA256:  e160c722f...`; v4 printed 16). Compare with `startsWith`, never `===`.
 */
export function parseElfShaLine(line: string): string | null {
  const m = ELF_SHA.exec(line);
  return m ? m[1]!.toLowerCase() : null;
}
