/**
 * The agent's portable C core (firmware/components/hilt_agent/core), built and run for real:
 * compiled for 32 and 64 bits with -std=c99 -Wall -Wextra -Werror, its unit tests and its fuzz
 * driver run under AddressSanitizer and UBSan, and its answers compared line for line with the
 * emulator's for the same input. Skipped with one line when this machine has no C toolchain.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Board } from '../../emulator/board.ts';
import { SUITES, mbedtlsConfigOf, parseSdkconfig, REFERENCE_SDKCONFIG } from '../../emulator/mbedtls/index.ts';
import { coreTables } from '../../firmware/tools/gen-core-tables.ts';
import { LineSplitter, parseHostLine, type Line } from '../../harness/protocol/index.ts';
import { REPO, run, tempDir, type Ran } from '../helpers.ts';

const FIRMWARE = join(REPO, 'firmware');
const MISSING = 'no C toolchain for the agent core: install gcc, make and gcc-multilib (apt-get install gcc make gcc-multilib)';

/** `make -C firmware <targets> CORE_OUT=<out>`, bounded. */
function make(out: string, targets: string[], vars: Record<string, string> = {}): Promise<Ran> {
  const args = ['-C', FIRMWARE, ...targets, `CORE_OUT=${out}`, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  return run('make', args, { timeoutMs: 8 * 60_000 });
}

/** Whether gcc can build and run a 32-bit sanitized program here. */
async function toolchain(dir: string): Promise<boolean> {
  try {
    const makeOk = await run('make', ['--version']);
    const src = join(dir, 'probe.c');
    await writeFile(src, 'int main(void) { return 0; }\n');
    const gcc = await run('gcc', ['-m32', '-fsanitize=address,undefined', src, '-o', join(dir, 'probe')]);
    return makeOk.code === 0 && gcc.code === 0 && (await run(join(dir, 'probe'), [])).code === 0;
  } catch {
    return false; // ENOENT: no make or no gcc
  }
}

describe('native: the agent core in C', function () {
  this.timeout(10 * 60_000);
  let tmp: { dir: string; remove: () => Promise<void> };

  before(async function () {
    tmp = await tempDir('hilt-core-');
    if (!(await toolchain(tmp.dir))) {
      console.log(`      skipped: ${MISSING}`);
      this.skip();
    }
  });
  after(async () => {
    await tmp?.remove();
  });

  it('compiles warning-free as C99 for -m32 and -m64, optimised as ESP-IDF builds it', async () => {
    const built = await make(tmp.dir, ['core-check']);
    expect(built.code, built.stderr).to.equal(0);
    for (const bits of ['-m32', '-m64']) {
      expect(built.stdout).to.match(new RegExp(`${bits} -Os -std=c99 -pedantic -Wall -Wextra -Werror .*hilt_core\\.c`));
    }
  });

  it('allocates nothing and prints nothing itself: it calls only memory and string functions of the C library', async () => {
    const built = await make(tmp.dir, ['core-check']);
    expect(built.code, built.stderr).to.equal(0);
    for (const bits of ['m32', 'm64']) {
      const objects = join(tmp.dir, bits);
      const files = (await readdir(objects)).filter((f) => f.endsWith('.o')).map((f) => join(objects, f));
      const symbols = async (flag: string) => (await run('nm', [flag, ...files])).stdout.split('\n')
        .map((line) => /^\s*(?:[0-9a-f]+\s+)?[A-Za-z]\s+(\S+)$/.exec(line)?.[1]).filter((name): name is string => name !== undefined);
      const defined = new Set(await symbols('--defined-only'));
      const outside = [...new Set(await symbols('-u'))].filter((name) => !defined.has(name));
      // 64-bit division helpers of libgcc on 32 bits, and the GOT of position-independent code.
      const allowed = /^(mem(chr|cmp|cpy|move|set)|str(cmp|cspn|len|ncmp)|__u?(div|mod|divmod)di[34]|_GLOBAL_OFFSET_TABLE_)$/;
      expect(outside.filter((name) => !allowed.test(name)), bits).to.deep.equal([]);
      expect(outside, `${bits}: the check reads the objects' imports`).to.include('strcmp');
    }
  });

  it('passes its unit tests against the recording test port, 32 and 64 bits, under ASan and UBSan', async () => {
    const tested = await make(tmp.dir, ['core-test']);
    expect(tested.code, `${tested.stdout}\n${tested.stderr}`).to.equal(0);
    const results = tested.stdout.match(/^\d+ checks, \d+ failed$/gm) ?? [];
    expect(results).to.have.length(2);
    for (const line of results) expect(line).to.match(/^(1\d\d|[2-9]\d\d) checks, 0 failed$/);
  });

  it('takes 100,000 random and mutated lines without a crash, a leak or a malformed reply (ASan + UBSan, 32 and 64 bits)', async () => {
    const fuzzed = await make(tmp.dir, ['core-fuzz'], { FUZZ_LINES: '100000', FUZZ_SEED: '20261201' });
    expect(fuzzed.code, `${fuzzed.stdout}\n${fuzzed.stderr}`).to.equal(0);
    const runs = [...fuzzed.stdout.matchAll(/fuzz: (\d+) lines fed, 0 bad output lines, 0 commands without exactly one reply/g)];
    expect(runs).to.have.length(2);
    for (const [, fed] of runs) expect(Number(fed)).to.be.at.least(100_000);
    expect(fuzzed.stderr).not.to.match(/runtime error|AddressSanitizer|LeakSanitizer/);
  });

  it('names codes from the same tables as the emulator (hilt_tables.c is what the generator writes)', async () => {
    const committed = await readFile(join(FIRMWARE, 'components/hilt_agent/core/hilt_tables.c'), 'utf8');
    expect(committed, 'regenerate: npx tsx firmware/tools/gen-core-tables.ts > firmware/components/hilt_agent/core/hilt_tables.c')
      .to.equal(coreTables());
  });

  describe('answers as the emulator does', function () {
    const config = mbedtlsConfigOf(parseSdkconfig(REFERENCE_SDKCONFIG, 'reference sdkconfig'));
    const disabled = SUITES.find((s) => !config.ciphersuites.includes(s.mbedtls))!.mbedtls;
    const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
    const store = (id: number, args: string) => `@hil ${id} store.put ${args}`;

    /** Input lines (text, or raw bytes) whose answers do not depend on time, heap or network. */
    const CATALOGUE: Array<string | Buffer> = [
      // console input and lines that cannot be answered
      'hello there', '   ', '@hil', '@hil x hello', '@hil 2147483648 hello', '@hil 0 hello', '@hil 01 hello', '@hil -1 hello',
      // refusals while parsing
      '@hil 3', '@hil 3 fly', `@hil 3 fly${'0123456789'.repeat(4)}`, `@hil 3 ${'\u{1F600}'.repeat(30)}`, `@hil 3 x${'\u{1F600}'.repeat(30)}`,
      `@hil ${'\u{1F600}'.repeat(30)} hello`, `@hil 3 hello a=\t${'\u{1F600}'.repeat(30)}`,
      '@hil 3 hello x', '@hil 3 hello 9a=1', '@hil 3 hello A=1', '@hil 3 hello =1', '@hil 3 hello a=', '@hil 3 hello a=b\tc',
      '@hil 3 hello a=b\u00a0c', '@hil 3 hello a=b\u2028c', '@hil 3 hello a=b\u0085c', '@hil 3 hello a=1 a=2', '@hil 3 hello a=1 b=2',
      Buffer.from('@hil 3 fl\xff\xe2\x82y hello', 'latin1'), Buffer.from('@hil 3 hello k=\xc3', 'latin1'),
      '@hil   5   time.set  epoch=1 skip_cm=1 ',
      // integers, time
      ...['010', '-0', '+5', '0x10', '1e3', '1.5', '-', '1099511627777', '99999999999999999999', ' '].map((v) => `@hil 4 time.set epoch=${v}`),
      '@hil 4 time.set', '@hil 4 time.set epoch=1764547200', '@hil 4 time.set epoch=1099511627776', '@hil 4 time.set epoch=0',
      '@hil 6 heap.reserve bytes=16777217', '@hil 6 heap.reserve bytes=-1', '@hil 6 heap.reserve', '@hil 6 heap.release x=1',
      // the store and its parts
      store(8, 'slot=ca1 kind=ca data=YWJj'), '@hil 9 store.list',
      store(8, 'slot=k kind=key data=YWJj part=1/2'), store(8, 'slot=k kind=key data=ZA== part=2/2'), '@hil 9 store.list',
      store(8, 'slot=k kind=key data=YWJj part=2/2'),
      store(8, 'slot=k kind=key data=YWJj part=1/3'), store(8, 'slot=k kind=key data=YWJj part=3/3'), store(8, 'slot=k kind=key data=YWJj part=2/3'),
      store(8, 'slot=k kind=key data=YWJj part=1/3'), store(8, 'slot=k kind=ca data=YWJj part=2/3'),
      store(8, 'slot=k kind=key data=YWJj part=1/3'), store(8, 'slot=k kind=key data=YWJj part=2/4'),
      ...['0/1', '2/1', '1/1001', '01/2', '1/2/3', '1000/1000x', '1-2'].map((p) => store(8, `slot=p kind=ca data=YWJj part=${p}`)),
      store(8, 'slot=none kind=ca data=YWJj'), store(8, 'slot=Big kind=ca data=YWJj'), store(8, 'slot=a"b\\c kind=ca data=YWJj'),
      store(8, 'slot=abcdefghijklmnopq kind=ca data=YWJj'), store(8, 'slot=a kind=pem data=YWJj'), store(8, 'slot=a kind=ca'), store(8, 'kind=ca data=YWJj'),
      ...['YQ', 'Y-_A', 'Y===', 'YQ=A', 'YWJjYR==', 'YWJ=', 'YWI=', '====', 'YW Jj'].map((d) => store(8, `slot=a kind=ca data=${d}`)),
      ...Array.from({ length: 12 }, (_, i) => store(10, `slot=b kind=ca part=${i + 1}/20 data=${b64(720)}`)), store(10, `slot=b kind=ca part=13/20 data=${b64(3)}`),
      '@hil 9 store.del slot=k', '@hil 9 store.del slot=k', '@hil 9 store.del slot="x"', '@hil 9 store.del',
      ...Array.from({ length: 8 }, (_, i) => store(11, `slot=s${i} kind=ca data=YWJj`)), store(11, 'slot=s0 kind=cert data=YWJj'), '@hil 9 store.list',
      '@hil 9 store.del slot=s7', '@hil 9 store.del slot=s6', store(11, 'slot=ca1 kind=cert data=YWJj'),
      // connect arguments refused before any network
      '@hil 20 tls.connect', '@hil 20 tls.connect host=h ca=nope', '@hil 20 tls.connect host=h cert=s0', '@hil 20 tls.connect host=h key=s0',
      '@hil 20 tls.connect host=h cert=ca1 key=ca1', '@hil 20 tls.connect host=h cert=s0 key=s0', '@hil 20 tls.connect host=h cert=s0 key=nope',
      '@hil 20 tls.connect host=h ca=s0', '@hil 20 tls.connect host=h tls=1.3', '@hil 20 tls.connect host=h tls=1.1',
      '@hil 20 tls.connect host=h ciphers=TLS-FOO', '@hil 20 tls.connect host=h ciphers=TLS-FOO,"x"', `@hil 20 tls.connect host=h ciphers=${disabled}`,
      '@hil 20 tls.connect host=h ciphers=a,,b', '@hil 20 tls.connect host=h ciphers=,', '@hil 20 tls.connect host=h timeout_ms=600001',
      '@hil 20 tls.connect host=h port=0', '@hil 20 tls.connect host=h port=65536', '@hil 20 tls.connect host=h skip_cn=2', '@hil 20 tls.connect host=h alpn=a,',
      '@hil 20 tls.connect host=h hold_ms=60001', '@hil 20 tls.connect host=h client_id=x', '@hil 20 tls.connect host=h port=x timeout_ms=x',
      '@hil 21 mqtt.connect host=h keepalive=65536', '@hil 21 mqtt.connect host=h clean=2', '@hil 21 mqtt.connect host=h password=x',
      '@hil 21 mqtt.connect host=h retain=1', '@hil 21 mqtt.connect ca=nope',
      '@hil 22 mqtt.publish topic=t', '@hil 22 mqtt.subscribe topic=t', '@hil 22 mqtt.publish qos=9', '@hil 22 mqtt.subscribe', '@hil 23 tls.close x=1',
      // lines over the limit
      `@hil 30 store.put slot=abc kind=ca part=1/1 data=${'A'.repeat(976)}`, `@hil 30 store.put slot=abc kind=ca part=1/1 data=${'A'.repeat(977)}`,
      `@hil 31 store.put slot=abc kind=ca part=1/1 data=${'A'.repeat(976)}\r`, `@hil 32 ${'x'.repeat(3000)}`, `@hil 33 ${'x'.repeat(5000)}`,
      `@hil z ${'x'.repeat(2000)}`, 'y'.repeat(3000), 'y'.repeat(5000), '@hil 34 heap.release',
    ];

    /** The emulator's answers: its lines as it writes them, timestamps and colours taken off its log lines. */
    async function emulatorAnswers(input: Buffer): Promise<string[]> {
      const out: string[] = [];
      let waiting: { id: number; resolve: () => void } | null = null;
      const board = new Board({
        write: (text) => {
          // As the bytes reach the wire: a lone surrogate half is encoded as U+FFFD.
          for (const line of Buffer.from(text).toString('utf8').split('\n').slice(0, -1)) {
            out.push(line.replace(/\x1b\[[0-9;]*m/g, '').replace(/^([EWIDV]) \(\d+\) /, '$1 '));
            if (waiting && line.startsWith(`@hil ${waiting.id} `)) waiting.resolve();
          }
        },
      });
      board.boot();
      out.length = 0;
      // The emulator reads its input through the same splitter serve.ts gives it.
      const lines: Line[] = [];
      const splitter = new LineSplitter({ maxLineBytes: 4096 });
      splitter.on('data', (line: Line) => lines.push(line));
      splitter.end(input);
      await new Promise((resolve) => splitter.once('end', resolve));
      for (const line of lines) {
        const parsed = parseHostLine(line);
        const id = parsed === null ? null : parsed.ok ? parsed.command.id : parsed.id;
        if (id === null) {
          board.input(line); // a warning at most, written at once
          continue;
        }
        const replied = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the emulator did not answer ${line.text.slice(0, 80)}`)), 5_000);
          waiting = { id, resolve: () => { clearTimeout(timer); resolve(); } };
        });
        board.input(line);
        await replied;
        waiting = null;
      }
      await board.shutdown();
      return out;
    }

    it('for every refusal, store operation and limit in its catalogue, byte for byte', async () => {
      const built = await make(tmp.dir, ['core-stdio']);
      expect(built.code, built.stderr).to.equal(0);
      const input = Buffer.concat(CATALOGUE.map((line) => Buffer.concat([typeof line === 'string' ? Buffer.from(line) : line, Buffer.from('\n')])));
      const native = await new Promise<string[]>((resolve, reject) => {
        const child = execFile(join(tmp.dir, 'core_stdio'), [config.ciphersuites.join(',')], { encoding: 'buffer', timeout: 60_000, maxBuffer: 16 << 20 },
          (err, stdout) => (err ? reject(err) : resolve(stdout.toString('utf8').split('\n').slice(0, -1))));
        child.stdin!.end(input);
      });
      expect(native[0]).to.equal('@hil * boot {"proto":1,"reason":"POWERON_RESET"}');
      const emulated = await emulatorAnswers(input);
      // Line by line, so a difference shows as one pair of lines rather than two long arrays.
      const pairs = emulated.map((line, i) => [native[i + 1], line] as const).filter(([c, e]) => c !== e);
      expect(pairs.map(([c, e]) => `C:   ${c}\nemu: ${e}`).join('\n'), 'C core vs emulator').to.equal('');
      expect(native.length - 1, 'lines written').to.equal(emulated.length);
      // The comparison covered what it claims: every kind of refusal is in it.
      for (const code of ['bad_args', 'unknown_command', 'too_long', 'no_slot']) expect(emulated.join('\n')).to.include(`"code":"${code}"`);
      expect(emulated.filter((l) => l.startsWith('@hil ')).length).to.be.greaterThan(120);
    });

    it('with a hello of the same shape, field for field', async () => {
      const built = await make(tmp.dir, ['core-stdio']);
      expect(built.code, built.stderr).to.equal(0);
      const native = (await run(join(tmp.dir, 'core_stdio'), [config.ciphersuites.join(',')], { input: '@hil 1 hello\n' })).stdout.split('\n')[1]!;
      const [emulated] = (await emulatorAnswers(Buffer.from('@hil 1 hello\n'))).filter((l) => l.startsWith('@hil 1 '));
      const shape = (value: unknown): unknown => value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.entries(value).map(([k, v]) => [k, shape(v)])
        : Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
      const body = (line: string) => JSON.parse(line.replace(/^@hil 1 ok /, '')) as Record<string, unknown>;
      expect(shape(body(native))).to.deep.equal(shape(body(emulated!)));
      expect((body(native).mbedtls as { ciphersuites: string[] }).ciphersuites).to.deep.equal(config.ciphersuites);
    });
  });
});
