/**
 * Reading an ESP32's console: ESP-IDF log lines, the ROM's reset line, and the text of crashes.
 * Pure functions over one line of text (ESP32-FACTS sections 1 and 8); the device layer decides
 * what a reset or a panic means for the scenario that was running.
 */
import { parseBootLine } from '../wire/boot-line.ts';

export type LogLevel = 'E' | 'W' | 'I' | 'D' | 'V';

export interface LogLine {
  level: LogLevel;
  tag: string;
  message: string;
  timestamp: { kind: 'uptime'; ms: number } | { kind: 'clock'; time: string } | { kind: 'none' };
}

export type PanicKind = 'guru_meditation' | 'abort' | 'brownout' | 'watchdog' | 'stack_overflow' | 'unexpected_reset';

export interface Panic {
  kind: PanicKind;
  /** Short words for a report: the exception name, the watchdog, the task. */
  reason: string;
  /** The console line it was read from, colours removed. */
  line: string;
}

// SGR only (colour, bold, reset): ESP-IDF's log colours are the only escapes a board prints.
const SGR = /\x1b\[[0-9;]*m/g;

export function stripColours(text: string): string {
  return text.replace(SGR, '');
}

/**
 * `E (5123) tag: msg` (ms since boot), `I (12:30:14.197) tag: msg` (system time, optionally with
 * a date in IDF 5.4+'s full form), `E BOD: msg` (early logs, no timestamp). The Wi-Fi blob
 * prints `I (588) wifi:wifi driver task: ...` with no space after the colon, so it is optional.
 */
const LOG_LINE = /^([EWIDV]) (?:\((?:(\d+)|((?:\d{2,4}-\d{2}-\d{2} )?\d{1,2}:\d{2}:\d{2}(?:\.\d{1,6})?))\) )?([A-Za-z0-9_.\-/]+): ?(.*)$/;

export function parseLogLine(text: string): LogLine | null {
  const match = LOG_LINE.exec(stripColours(text).replace(/[\r\n]+$/, ''));
  if (!match) return null;
  const [, level, uptime, clock, tag, message] = match;
  const timestamp: LogLine['timestamp'] = uptime !== undefined ? { kind: 'uptime', ms: Number(uptime) }
    : clock !== undefined ? { kind: 'clock', time: clock }
    : { kind: 'none' };
  return { level: level as LogLevel, tag: tag!, message: message!.trimEnd(), timestamp };
}

/** `rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)`: the ROM's first words after a reset, with a named reason. */
export function parseResetLine(text: string): { code: number; reason: string } | null {
  const line = parseBootLine(stripColours(text));
  return line && line.resetName !== '' ? { code: line.resetCode, reason: line.resetName } : null;
}

/**
 * Crash text, most specific first. Each entry reads one line; `reason` gets the capture groups.
 * Watchdog and brownout resets are recognised by the ROM's reason name (TG0WDT_SYS_RESET,
 * RTCWDT_BROWN_OUT_RESET, and the S3/C3 spellings ending in _RST), so every chip's table fits.
 */
const PANICS: ReadonlyArray<{ kind: PanicKind; pattern: RegExp; reason: (m: RegExpExecArray) => string }> = [
  // FreeRTOS's end-of-stack check (vApplicationStackOverflowHook) and the canary watchpoint; the
  // task name may hold spaces, and the line may stop early (a board that resets before its UART
  // drained, a console that cut it): the start is enough to know it, the name is given as far as it came.
  { kind: 'stack_overflow', pattern: /\*\*\*ERROR\*\*\* A stack overflow(?: in task (.*))?/, reason: (m) => overflowReason(m[1], / has been detected\.?$/, ' has been detected.') },
  { kind: 'stack_overflow', pattern: /Stack canary watchpoint triggered(?: \((.*))?$/, reason: (m) => overflowReason(m[1], /\)$/, ')') },
  { kind: 'watchdog', pattern: /Guru Meditation Error: Core\s+\d+ panic'ed \((Interrupt wdt timeout on CPU\d+)\)/, reason: (m) => m[1]! },
  { kind: 'guru_meditation', pattern: /Guru Meditation Error: Core\s+\d+ panic'ed \((.+?)\)/, reason: (m) => m[1]! },
  { kind: 'abort', pattern: /abort\(\) was called at PC (0x[0-9a-f]+) on core (\d+)/i, reason: (m) => `abort() at PC ${m[1]} on core ${m[2]}` },
  { kind: 'abort', pattern: /^assert failed: (.+)$/, reason: (m) => `assert failed: ${m[1]}` },
  { kind: 'abort', pattern: /^ESP_ERROR_CHECK failed: esp_err_t (0x[0-9a-f]+) \((\w+)\)/i, reason: (m) => `ESP_ERROR_CHECK failed: ${m[2]} (${m[1]})` },
  { kind: 'brownout', pattern: /Brownout detector was triggered/, reason: () => 'Brownout detector was triggered' },
  { kind: 'watchdog', pattern: /Task watchdog got triggered/, reason: () => 'Task watchdog got triggered' },
];

/** The ROM's first line after a reset (ESP32: `ets Jul 29 2019 12:21:46`; S3/C3: `ESP-ROM:esp32s3-20210327`), to the end. */
const ROM_RUN_ON = /(?:ets [A-Z][a-z]{2} [ \d]\d \d{4} \d\d:\d\d:\d\d|ESP-ROM:).*$/;

/**
 * "stack overflow in task NAME" from what follows "in task" / "(" on the line: `end` is how the
 * line ends when whole. A line cut inside that ending still has the whole name; one cut before it
 * may not, and the reason says so rather than name a task that does not exist.
 */
function overflowReason(rest: string | undefined, end: RegExp, ending: string): string {
  // A chip that restarts before its UART drained: the ROM's first words run on in the same line.
  const text = (rest ?? '').replace(ROM_RUN_ON, '').trimEnd();
  const whole = end.exec(text);
  if (whole) return `stack overflow in task ${text.slice(0, whole.index)}`;
  for (let k = ending.length - 1; k >= 2; k--) {
    if (text.endsWith(ending.slice(0, k))) return `stack overflow in task ${text.slice(0, -k)} (the console line was cut short)`;
  }
  if (text === '') return 'stack overflow in a task whose name the console cut off';
  return `stack overflow in task "${text}…" (the console cut the line: the name may be incomplete)`;
}

export function detectPanic(text: string): Panic | null {
  const line = stripColours(text).replace(/[\r\n]+$/, '').trim();
  for (const { kind, pattern, reason } of PANICS) {
    const match = pattern.exec(line);
    if (match) return { kind, reason: reason(match), line };
  }
  const reset = parseResetLine(line);
  if (reset && /BROWN_OUT/.test(reset.reason)) return { kind: 'brownout', reason: reset.reason, line };
  if (reset && /WDT/.test(reset.reason)) return { kind: 'watchdog', reason: reset.reason, line };
  return null;
}

/**
 * A reboot nobody asked for (the caller knows whether it asked). Power-on is not one: opening a
 * serial port pulses EN on most boards, and a board that was just started prints it too. Panics
 * and watchdogs print their own lines first (detectPanic).
 */
export function unexpectedReset(text: string): Panic | null {
  const reset = parseResetLine(text);
  if (!reset || reset.code === 0x1) return null;
  return { kind: 'unexpected_reset', reason: `rebooted on its own (${reset.reason})`, line: text };
}
