/**
 * The ESP-IDF console as a board prints it: log lines in all three timestamp forms, with and
 * without colours, the ROM's reset line, and every kind of crash the device layer must notice.
 */
import { expect } from 'chai';
import { detectPanic, parseLogLine, parseResetLine, stripColours, type LogLine, type Panic } from '../../harness/device/log.ts';

const RED = '\x1b[0;31m';
const YELLOW = '\x1b[0;33m';
const GREEN = '\x1b[0;32m';
const RESET = '\x1b[0m';

const uptime = (ms: number) => ({ kind: 'uptime' as const, ms });

const LOG_LINES: Array<[string, LogLine]> = [
  ['E (5123) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700',
    { level: 'E', tag: 'esp-tls-mbedtls', message: 'mbedtls_ssl_handshake returned -0x2700', timestamp: uptime(5123) }],
  ['I (28) boot: ESP-IDF v5.5 2nd stage bootloader',
    { level: 'I', tag: 'boot', message: 'ESP-IDF v5.5 2nd stage bootloader', timestamp: uptime(28) }],
  ['I (39) boot.esp32: SPI Speed      : 40MHz',
    { level: 'I', tag: 'boot.esp32', message: 'SPI Speed      : 40MHz', timestamp: uptime(39) }],
  ['I (525) main_task: Calling app_main()',
    { level: 'I', tag: 'main_task', message: 'Calling app_main()', timestamp: uptime(525) }],
  ['E (8231) mqtt_client: esp-tls last error: -0x8019? (ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED)',
    { level: 'E', tag: 'mqtt_client', message: 'esp-tls last error: -0x8019? (ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED)', timestamp: uptime(8231) }],
  ['W (1043) transport_base: Poll timeout or error, errno=Connection reset by peer, fd=54, timeout_ms=10000',
    { level: 'W', tag: 'transport_base', message: 'Poll timeout or error, errno=Connection reset by peer, fd=54, timeout_ms=10000', timestamp: uptime(1043) }],
  ['D (2210) esp_netif_lwip: check: remote, if=0x3ffb8ad8 fn=0x400e6b0c',
    { level: 'D', tag: 'esp_netif_lwip', message: 'check: remote, if=0x3ffb8ad8 fn=0x400e6b0c', timestamp: uptime(2210) }],
  ['V (3001) esp-x509-crt-bundle: Certificate validated',
    { level: 'V', tag: 'esp-x509-crt-bundle', message: 'Certificate validated', timestamp: uptime(3001) }],
  ['I (12:30:14.197) wifi_sta: got ip:192.168.1.42',
    { level: 'I', tag: 'wifi_sta', message: 'got ip:192.168.1.42', timestamp: { kind: 'clock', time: '12:30:14.197' } }],
  ['E BOD: Brownout detector was triggered',
    { level: 'E', tag: 'BOD', message: 'Brownout detector was triggered', timestamp: { kind: 'none' } }],
  // The Wi-Fi blob writes its tag and message with no space between them.
  ['I (588) wifi:wifi driver task: 3ffc08b4, prio:23, stack:6656, core=0',
    { level: 'I', tag: 'wifi', message: 'wifi driver task: 3ffc08b4, prio:23, stack:6656, core=0', timestamp: uptime(588) }],
  // A CRLF-terminated line, as a device may send.
  ['W (1200) esp-tls: Failed to open new connection\r\n',
    { level: 'W', tag: 'esp-tls', message: 'Failed to open new connection', timestamp: uptime(1200) }],
];

const NOT_LOG_LINES: Array<[string, string]> = [
  ['ROM banner', 'ets Jul 29 2019 12:21:46'],
  ['ROM reset line', 'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)'],
  ['ROM flash settings', 'configsip: 0, SPIWP:0xee'],
  ['ROM loader', 'load:0x3fff0030,len:7112'],
  ['ROM entry', 'entry 0x400805e4'],
  ['ROM mode', 'mode:DIO, clock div:2'],
  ['JSON', '{"level":"E","tag":"x","message":"y"}'],
  ['agent reply', '@hil 3 ok {"free":147968,"min_free":101234,"largest":110592}'],
  ['agent event', '@hil * boot {"proto":1,"reason":"POWERON_RESET"}'],
  ['blank', ''],
  ['spaces', '   '],
  ['panic banner', "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled."],
  ['backtrace', 'Backtrace: 0x400d1234:0x3ffb5030 0x400d5678:0x3ffb5050 |<-CORRUPTED'],
  ['lower-case level', 'e (5123) tag: message'],
  ['unknown level', 'X (5123) tag: message'],
  ['level without tag', 'E (5123) no colon here'],
];

describe('device console: ESP-IDF log lines', function () {
  describe('parseLogLine', function () {
    for (const [text, expected] of LOG_LINES) {
      it(`reads ${JSON.stringify(text.trimEnd())}`, function () {
        expect(parseLogLine(text)).to.deep.equal(expected);
      });
    }

    it('reads the same lines in colour (CONFIG_LOG_COLORS: E red, W yellow, I green, D/V plain)', function () {
      const colour: Record<string, string> = { E: RED, W: YELLOW, I: GREEN, D: '', V: '' };
      for (const [text, expected] of LOG_LINES) {
        const plain = text.trimEnd();
        const painted = colour[expected.level] ? `${colour[expected.level]}${plain}${RESET}` : plain;
        expect(parseLogLine(painted), JSON.stringify(painted)).to.deep.equal(expected);
      }
    });

    it('reads the system-time form with a date (IDF 5.4+ full system time)', function () {
      expect(parseLogLine('I (24-11-23 12:30:14.197) app: up')?.timestamp).to.deep.equal({ kind: 'clock', time: '24-11-23 12:30:14.197' });
    });

    for (const [what, text] of NOT_LOG_LINES) {
      it(`does not read ${what} as a log line`, function () {
        expect(parseLogLine(text)).to.equal(null);
      });
    }
  });

  describe('stripColours', function () {
    it('removes the SGR sequences ESP-IDF prints and keeps the text', function () {
      expect(stripColours(`${RED}E (5123) esp-tls: x${RESET}`)).to.equal('E (5123) esp-tls: x');
      expect(stripColours('\x1b[1;31mbold\x1b[0m \x1b[mplain')).to.equal('bold plain');
      expect(stripColours('no colours here')).to.equal('no colours here');
    });
  });

  describe('parseResetLine', function () {
    it('reads the reset code and reason of the ROM line', function () {
      expect(parseResetLine('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)')).to.deep.equal({ code: 1, reason: 'POWERON_RESET' });
      expect(parseResetLine('rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)')).to.deep.equal({ code: 12, reason: 'SW_CPU_RESET' });
      expect(parseResetLine('rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)')).to.deep.equal({ code: 16, reason: 'RTCWDT_RTC_RESET' });
    });

    it('reads nothing from other lines', function () {
      expect(parseResetLine('ets Jul 29 2019 12:21:46')).to.equal(null);
      expect(parseResetLine('I (28) boot: ESP-IDF v5.5 2nd stage bootloader')).to.equal(null);
      expect(parseResetLine('')).to.equal(null);
    });
  });
});

describe('device console: crashes', function () {
  const PANICS: Array<[string, Omit<Panic, 'line'>]> = [
    ["Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.", { kind: 'guru_meditation', reason: 'LoadProhibited' }],
    ["Guru Meditation Error: Core  1 panic'ed (StoreProhibited). Exception was unhandled.", { kind: 'guru_meditation', reason: 'StoreProhibited' }],
    ["Guru Meditation Error: Core  0 panic'ed (Unhandled debug exception).", { kind: 'guru_meditation', reason: 'Unhandled debug exception' }],
    ["Guru Meditation Error: Core  0 panic'ed (Interrupt wdt timeout on CPU0).", { kind: 'watchdog', reason: 'Interrupt wdt timeout on CPU0' }],
    ['abort() was called at PC 0x400dca43 on core 0', { kind: 'abort', reason: 'abort() at PC 0x400dca43 on core 0' }],
    ['assert failed: xQueueSemaphoreTake queue.c:1545 (pxQueue->uxItemSize == 0)', { kind: 'abort', reason: 'assert failed: xQueueSemaphoreTake queue.c:1545 (pxQueue->uxItemSize == 0)' }],
    ['ESP_ERROR_CHECK failed: esp_err_t 0x101 (ESP_ERR_NO_MEM) at 0x400d2f3c', { kind: 'abort', reason: 'ESP_ERROR_CHECK failed: ESP_ERR_NO_MEM (0x101)' }],
    ['Brownout detector was triggered', { kind: 'brownout', reason: 'Brownout detector was triggered' }],
    ['E BOD: Brownout detector was triggered', { kind: 'brownout', reason: 'Brownout detector was triggered' }],
    ['rst:0xf (RTCWDT_BROWN_OUT_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)', { kind: 'brownout', reason: 'RTCWDT_BROWN_OUT_RESET' }],
    ['Task watchdog got triggered. The following tasks did not reset the watchdog in time:', { kind: 'watchdog', reason: 'Task watchdog got triggered' }],
    ['E (15123) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the watchdog in time:', { kind: 'watchdog', reason: 'Task watchdog got triggered' }],
    ['rst:0x7 (TG0WDT_SYS_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)', { kind: 'watchdog', reason: 'TG0WDT_SYS_RESET' }],
    ['rst:0x8 (TG1WDT_SYS_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)', { kind: 'watchdog', reason: 'TG1WDT_SYS_RESET' }],
    ['rst:0x9 (RTCWDT_SYS_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)', { kind: 'watchdog', reason: 'RTCWDT_SYS_RESET' }],
    ['***ERROR*** A stack overflow in task mqtt_task has been detected.', { kind: 'stack_overflow', reason: 'stack overflow in task mqtt_task' }],
    ['Debug exception reason: Stack canary watchpoint triggered (main)', { kind: 'stack_overflow', reason: 'stack overflow in task main' }],
  ];

  for (const [line, expected] of PANICS) {
    it(`${expected.kind}: ${line}`, function () {
      expect(detectPanic(line)).to.deep.equal({ ...expected, line });
    });
  }

  describe('a stack overflow names its task', function () {
    const reasonOf = (line: string) => {
      const panic = detectPanic(line);
      expect(panic?.kind, line).to.equal('stack_overflow');
      return panic!.reason;
    };

    it('in both of ESP-IDF\'s forms: the end-of-stack check and the canary watchpoint', function () {
      expect(reasonOf('***ERROR*** A stack overflow in task mqtt_task has been detected.')).to.equal('stack overflow in task mqtt_task');
      expect(reasonOf('\r\n***ERROR*** A stack overflow in task hilt_connect has been detected.\r\n')).to.equal('stack overflow in task hilt_connect');
      expect(reasonOf('Debug exception reason: Stack canary watchpoint triggered (mqtt_task) ')).to.equal('stack overflow in task mqtt_task');
    });

    it('with spaces (and brackets) in the name, which FreeRTOS allows', function () {
      expect(reasonOf('***ERROR*** A stack overflow in task sensor poll has been detected.')).to.equal('stack overflow in task sensor poll');
      expect(reasonOf('Debug exception reason: Stack canary watchpoint triggered (ota (2))')).to.equal('stack overflow in task ota (2)');
    });

    it('after other text on the same line (an unfinished log line before the panic)', function () {
      expect(reasonOf('I (5123) mqtt_app: MQTT_EVENT_DATA***ERROR*** A stack overflow in task mqtt_task has been detected.')).to.equal('stack overflow in task mqtt_task');
    });

    it('from a line the console cut: the whole name when it came, else what came and that it may be incomplete', function () {
      expect(reasonOf('***ERROR*** A stack overflow in task mqtt_task has been det')).to.equal('stack overflow in task mqtt_task (the console line was cut short)');
      expect(reasonOf('***ERROR*** A stack overflow in task mqtt_task h')).to.equal('stack overflow in task mqtt_task (the console line was cut short)');
      expect(reasonOf('***ERROR*** A stack overflow in task mqtt_ta')).to.equal('stack overflow in task "mqtt_ta…" (the console cut the line: the name may be incomplete)');
      expect(reasonOf('Debug exception reason: Stack canary watchpoint triggered (mqtt_t')).to.equal('stack overflow in task "mqtt_t…" (the console cut the line: the name may be incomplete)');
      // The chip restarted before its UART drained: the ROM's first line ran on into the cut one.
      expect(reasonOf('***ERROR*** A stack overflow in task mqtt_taets Jul 29 2019 12:21:46')).to.equal('stack overflow in task "mqtt_ta…" (the console cut the line: the name may be incomplete)');
      expect(reasonOf('***ERROR*** A stack overflow in task mqtt_task has beESP-ROM:esp32s3-20210327')).to.equal('stack overflow in task mqtt_task (the console line was cut short)');
      expect(reasonOf('***ERROR*** A stack overflow in ta')).to.equal('stack overflow in a task whose name the console cut off');
      expect(reasonOf('***ERROR*** A stack overflow')).to.equal('stack overflow in a task whose name the console cut off');
    });
  });

  it('finds a crash in colour, and reports the line without the colours', function () {
    const line = 'E (15123) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the watchdog in time:';
    expect(detectPanic(`${RED}${line}${RESET}\r\n`)).to.deep.equal({ kind: 'watchdog', reason: 'Task watchdog got triggered', line });
    expect(detectPanic(`${RED}E BOD: Brownout detector was triggered${RESET}`)?.kind).to.equal('brownout');
  });

  it('leaves ordinary resets to the device layer (it knows whether it asked for one)', function () {
    for (const line of [
      'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
      'rst:0x3 (SW_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
      'rst:0x5 (DEEPSLEEP_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
      'rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
    ]) {
      expect(detectPanic(line), line).to.equal(null);
      expect(parseResetLine(line), line).to.not.equal(null);
    }
  });

  it('does not see a crash in the lines around one, or in ordinary output', function () {
    for (const line of [
      "Core  0 register dump:",
      'PC      : 0x400d1234  PS      : 0x00060630  A0      : 0x800d5678  A1      : 0x3ffb5030',
      'Backtrace: 0x400d1234:0x3ffb5030 0x400d5678:0x3ffb5050',
      'ELF file SHA256: 5c1b2a9e8f0d7c6b',
      'Rebooting...',
      'I (525) main_task: Calling app_main()',
      'E (5123) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700',
      '@hil * boot {"proto":1,"reason":"POWERON_RESET"}',
      '',
    ]) {
      expect(detectPanic(line), line).to.equal(null);
    }
  });
});
