/**
 * What the board prints: ESP-IDF log lines (`E (5123) esp-tls-mbedtls: ...`) with the board's
 * log level and colours, and the ROM/bootloader banner of a real ESP32 start.
 */

export type Level = 'E' | 'W' | 'I' | 'D' | 'V';

/** CONFIG_LOG_DEFAULT_LEVEL numbers: 1 error ... 5 verbose. */
const LEVEL_NUMBER: Record<Level, number> = { E: 1, W: 2, I: 3, D: 4, V: 5 };
const COLOUR: Partial<Record<Level, string>> = { E: '\x1b[0;31m', W: '\x1b[0;33m', I: '\x1b[0;32m' };

export interface ConsoleOptions {
  /** Writes one line (without newline) to the board's UART. */
  write: (line: string) => void;
  /** Milliseconds since boot, for the log timestamp. */
  uptimeMs: () => number;
  logLevel: number;
  colours: boolean;
}

export class Console {
  constructor(private readonly options: ConsoleOptions) {}

  log(level: Level, tag: string, message: string): void {
    this.logAt(level, Math.floor(this.options.uptimeMs()), tag, message);
  }

  /** A log line with a given timestamp (the boot banner's are those of a typical board). */
  logAt(level: Level, atMs: number, tag: string, message: string): void {
    if (LEVEL_NUMBER[level] > this.options.logLevel) return;
    const line = `${level} (${atMs}) ${tag}: ${message}`;
    const colour = this.options.colours ? COLOUR[level] : undefined;
    this.options.write(colour ? `${colour}${line}\x1b[0m` : line);
  }

  /** Whether lines of `level` are printed at the board's log level. */
  prints(level: Level): boolean {
    return LEVEL_NUMBER[level] <= this.options.logLevel;
  }

  e(tag: string, message: string): void { this.log('E', tag, message); }
  w(tag: string, message: string): void { this.log('W', tag, message); }
  i(tag: string, message: string): void { this.log('I', tag, message); }
  d(tag: string, message: string): void { this.log('D', tag, message); }

  /** Raw text, as the ROM prints it (no level, no timestamp). */
  raw(text: string): void {
    this.options.write(text);
  }
}

/** ESP32 reset reasons as the ROM prints them (rst:0x1 (POWERON_RESET)). */
export const RESET_REASONS = { POWERON_RESET: 0x1, SW_RESET: 0x3, SW_CPU_RESET: 0xc } as const;
export type ResetReason = keyof typeof RESET_REASONS;

export interface BootInfo {
  reason: ResetReason;
  idf: string;
  project: string;
  version: string;
  mac: string;
  cpuMhz: number;
  freeHeap: number;
}

export type BannerLine = { at: number; text: string } | { level: Level; at: number; tag: string; message: string };

/** What the ESP32's ROM prints when it boots from flash, up to the bootloader's entry. */
export function romFlashBootLines(reason: ResetReason, load: Array<{ loadAddr: number; length: number }> = [], entry = 0x400805e4): string[] {
  return [
    ROM_DATE,
    '',
    `rst:0x${RESET_REASONS[reason].toString(16)} (${reason}),boot:0x13 (SPI_FAST_FLASH_BOOT)`,
    'configsip: 0, SPIWP:0xee',
    'clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00',
    'mode:DIO, clock div:2',
    ...load.map((s) => `load:0x${s.loadAddr.toString(16).padStart(8, '0')},len:${s.length}`),
    `entry 0x${entry.toString(16).padStart(8, '0')}`,
  ];
}

/** What the ROM prints when GPIO0 was low as EN rose: the serial loader waits for a host. */
export function romDownloadLines(reason: ResetReason): string[] {
  return [ROM_DATE, '', `rst:0x${RESET_REASONS[reason].toString(16)} (${reason}),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))`, 'waiting for download'];
}

/** The ROM of an ECO3 (revision 3) chip, as on current DevKitC boards. */
const ROM_DATE = 'ets Jul 29 2019 12:21:46';

export interface AppIdentityLines {
  compileTime?: string;
  /** Full 64 hex digits; ESP-IDF prints the first 9 (CONFIG_APP_RETRIEVE_LEN_ELF_SHA) and "...". */
  elfSha256?: string | null;
}

/**
 * The lines a real ESP32 prints from reset to app_main: ROM, 2nd stage bootloader, app start.
 * Timestamps are those a typical board shows; they are text here, not a timing model.
 */
export function bootBanner(info: BootInfo, options: { rom?: boolean } & AppIdentityLines = {}): BannerLine[] {
  const rom = options.rom === false ? [] : romFlashBootLines(info.reason).map((text) => ({ at: 0, text }));
  const identity: BannerLine[] = options.elfSha256
    ? [
      { level: 'I', at: 277, tag: 'app_init', message: `Compile time:     ${options.compileTime ?? 'Nov 23 2026 00:00:00'}` },
      { level: 'I', at: 283, tag: 'app_init', message: `ELF file SHA256:  ${options.elfSha256.slice(0, 9)}...` },
    ]
    : [];
  return [
    ...rom,
    { level: 'I', at: 29, tag: 'boot', message: `ESP-IDF ${info.idf} 2nd stage bootloader` },
    { level: 'I', at: 29, tag: 'boot', message: 'compile time Nov 23 2026 00:00:00' },
    { level: 'I', at: 30, tag: 'boot', message: 'Multicore bootloader' },
    { level: 'I', at: 35, tag: 'boot', message: 'chip revision: v3.0' },
    { level: 'I', at: 39, tag: 'boot.esp32', message: 'SPI Speed      : 40MHz' },
    { level: 'I', at: 43, tag: 'boot.esp32', message: 'SPI Mode       : DIO' },
    { level: 'I', at: 48, tag: 'boot.esp32', message: 'SPI Flash Size : 4MB' },
    { level: 'I', at: 52, tag: 'boot', message: 'Enabling RNG early entropy source...' },
    { level: 'I', at: 246, tag: 'cpu_start', message: 'Multicore app' },
    { level: 'I', at: 263, tag: 'cpu_start', message: 'Pro cpu start user code' },
    { level: 'I', at: 263, tag: 'cpu_start', message: `cpu freq: ${info.cpuMhz * 1_000_000} Hz` },
    { level: 'I', at: 264, tag: 'app_init', message: `Application information:` },
    { level: 'I', at: 267, tag: 'app_init', message: `Project name:     ${info.project}` },
    { level: 'I', at: 272, tag: 'app_init', message: `App version:      ${info.version}` },
    ...identity,
    { level: 'I', at: 286, tag: 'app_init', message: `ESP-IDF:          ${info.idf}` },
    { level: 'I', at: 310, tag: 'heap_init', message: 'Initializing. RAM available for dynamic allocation:' },
    { level: 'I', at: 390, tag: 'spi_flash', message: 'detected chip: generic' },
    { level: 'I', at: 420, tag: 'main_task', message: 'Started on CPU0' },
    { level: 'I', at: 430, tag: 'main_task', message: 'Calling app_main()' },
    { level: 'I', at: 450, tag: 'hil_agent', message: `test agent ready, mac ${info.mac}, free heap ${info.freeHeap}` },
  ];
}
