import { expect } from 'chai';
import { isWaitingForDownload, parseBootLine, parseElfShaLine } from '../../harness/wire/boot-line.ts';

describe('boot line (the ROM\'s rst:/boot: line)', () => {
  it('reads a flash boot after power-on', () => {
    expect(parseBootLine('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)')).to.deep.equal({
      resetCode: 1, resetName: 'POWERON_RESET', bootCode: 0x13, download: false,
    });
  });

  it('reads download mode by the ROM\'s name for it, nested brackets and all', () => {
    expect(parseBootLine('rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))')).to.deep.equal({
      resetCode: 1, resetName: 'POWERON_RESET', bootCode: 3, download: true,
    });
  });

  it('reads the mode from the strapping value when the ROM gave no name', () => {
    expect(parseBootLine('rst:0xc,boot:0x13')?.download).to.equal(false);
    expect(parseBootLine('rst:0xc,boot:0x3')?.download).to.equal(true);
    expect(parseBootLine('rst:0xc (SW_CPU_RESET),boot:0x13')?.resetCode).to.equal(0xc);
  });

  it('takes "waiting for download" on the same line as download mode', () => {
    expect(parseBootLine('rst:0x1,boot:0x13 waiting for download')?.download).to.equal(true);
    expect(isWaitingForDownload('waiting for download')).to.equal(true);
    expect(isWaitingForDownload('I (31) boot: ESP-IDF v5.3.1 2nd stage bootloader')).to.equal(false);
  });

  it('is null for other lines', () => {
    for (const line of ['ets Jun  8 2016 00:22:57', 'configsip: 0, SPIWP:0xee', 'rst:', 'boot:0x13', '']) {
      expect(parseBootLine(line), line).to.equal(null);
    }
  });
});

describe('ELF SHA-256 line', () => {
  it('reads ESP-IDF v5\'s app_init prefix (9 hex digits and "...") and v4\'s cpu_start line', () => {
    expect(parseElfShaLine('I (444) app_init: ELF file SHA256:  e160c722f...')).to.equal('e160c722f');
    expect(parseElfShaLine('I (301) cpu_start: ELF file SHA256:  0123456789ABCDEF...')).to.equal('0123456789abcdef');
    const full = 'ab'.repeat(32);
    expect(parseElfShaLine(`I (9) app_init: ELF file SHA256: ${full}`)).to.equal(full);
  });

  it('is null for other lines and for too short a digest', () => {
    expect(parseElfShaLine('I (449) app_init: ESP-IDF:          v5.3.1')).to.equal(null);
    expect(parseElfShaLine('I (444) app_init: ELF file SHA256:  e16...')).to.equal(null);
  });
});
