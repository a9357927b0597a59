/**
 * Property-based fuzz of everything that reads input a person or a device wrote: hilt.config.json,
 * --target strings, the command line and the agent protocol's lines. For every input the answer
 * is either a value that is really valid, or one clean line naming the problem (a UsageError or a
 * ProtocolError, exit 2 on the command line): never a stack trace, a hang or an invalid value
 * quietly taken. Seeds are fixed, so a failure in CI reproduces here; each property prints what
 * it tried (inputs, clean errors, acceptances) for the record.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { writeFile, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { METRICS, loadConfig, validateConfig, type RunConfig } from '../../harness/run/config.ts';
import { KINDS, resolveTarget } from '../../harness/device/targets/index.ts';
import { buildProgram, main } from '../../harness/cli/main.ts';
import {
  COMMANDS, ERR_CODES, LineSplitter, MAX_HOST_LINE, MAX_ID, PREFIX, ProtocolError,
  argBase64, argBool, argEnum, argInt, argList, argPart,
  encodeCommand, encodeEvent, encodeReply, parseDeviceLine, parseHostLine, type ArgValue, type Line,
} from '../../harness/protocol/index.ts';
import { REFERENCE_SDKCONFIG } from '../../emulator/index.ts';
import { hilt, tempDir } from '../helpers.ts';

/** One seed for the file: a failure prints it, and the same run comes back with it. */
const SEED = 20261130;

// --- what a clean answer is -----------------------------------------------------------------------

/** Line breaks, other control characters, and the two Unicode line separators. */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029]/u;

/** One line a person can read in a terminal: no stack, no control characters, no internal error. */
function expectCleanMessage(message: string): void {
  expect(message, JSON.stringify(message)).to.be.a('string').and.not.equal('');
  expect(UNPRINTABLE.test(message), `control character in ${JSON.stringify(message)}`).to.equal(false);
  expect(message).to.not.match(/internal error|^\s+at /m);
}

/** What a module threw must be its own error class, with a clean message. */
function expectCleanError(err: unknown, kind: new (...args: never[]) => Error): void {
  if (!(err instanceof kind)) throw new Error(`expected a ${kind.name}, got ${err instanceof Error ? err.stack : String(err)}`);
  expectCleanMessage(err.message);
}

// --- counts for the record ------------------------------------------------------------------------

interface Tally { name: string; tried: number; clean: number; accepted: number }
const tallies: Tally[] = [];

function tally(name: string): Tally {
  const t = { name, tried: 0, clean: 0, accepted: 0 };
  tallies.push(t);
  return t;
}

/** Runs `check` on one input and counts its outcome: true accepted, false a clean error. */
function counted<T>(t: Tally, check: (input: T) => boolean): (input: T) => void {
  return (input) => {
    t.tried += 1;
    if (check(input)) t.accepted += 1;
    else t.clean += 1;
  };
}

function countedAsync<T>(t: Tally, check: (input: T) => Promise<boolean>): (input: T) => Promise<void> {
  return async (input) => {
    t.tried += 1;
    if (await check(input)) t.accepted += 1;
    else t.clean += 1;
  };
}

/** A bound on one case: a hang is a failure naming the input, not a stuck CI job. */
async function bounded<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// --- shared input shapes --------------------------------------------------------------------------

/** Text of every kind: printable, control characters, astral and lone surrogates. */
const anyText = (maxLength = 40) => fc.oneof(
  fc.string({ maxLength }),
  fc.string({ unit: 'binary', maxLength }),
  fc.string({ unit: fc.constantFrom('\n', '\r', '\0', '\x1b', '\u2028', ' ', '\t', '=', '&', '?', ':', ',', '/', '%'), maxLength: 6 }),
);

/** Small edits to a valid string: what a typo, a bad paste or a cut-off copy makes of it. */
function mutated(valid: string): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom('insert', 'delete', 'replace', 'truncate', 'double'), fc.nat(), anyText(6));
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((s, [op, at, text]) => {
    const i = s.length === 0 ? 0 : at % (s.length + 1);
    switch (op) {
      case 'insert': return s.slice(0, i) + text + s.slice(i);
      case 'delete': return s.slice(0, i) + s.slice(i + 1 + (at % 4));
      case 'replace': return s.slice(0, i) + text + s.slice(i + text.length);
      case 'truncate': return s.slice(0, i);
      default: return s.slice(0, i) + s.slice(i, i + 1 + (at % 8)) + s.slice(i);
    }
  }, valid));
}

// --- validity of what was accepted ----------------------------------------------------------------

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function expectSaneConfig(config: RunConfig): void {
  for (const path of [config.target, config.certsDir, config.reportDir]) {
    expect(path).to.be.a('string').and.not.equal('');
    expect(UNPRINTABLE.test(path), `control character in ${JSON.stringify(path)}`).to.equal(false);
  }
  for (const host of config.labHosts) expect(isIP(host) !== 0 || HOST_NAME.test(host), `lab host ${JSON.stringify(host)}`).to.equal(true);
  expect(config.repeat).to.be.within(1, 1000);
  expect(config.scenarioTimeoutMs).to.be.within(1000, 3_600_000);
  expect(config.commandTimeoutMs).to.be.within(100, 600_000);
  expect(config.helloTimeoutMs).to.be.within(100, 600_000);
  for (const n of [config.repeat, config.scenarioTimeoutMs, config.commandTimeoutMs, config.helloTimeoutMs]) expect(Number.isInteger(n)).to.equal(true);
  for (const rule of config.budgets) {
    expect(Object.hasOwn(METRICS, rule.metric), `budget metric ${JSON.stringify(rule.metric)}`).to.equal(true);
    expect(['<=', '<', '>=', '>']).to.include(rule.op);
    expect(Number.isFinite(rule.limit) && rule.limit >= 0, `budget limit ${rule.limit}`).to.equal(true);
  }
  // Accepted means it survives being written back and read again unchanged.
  const written = {
    target: config.target, certsDir: config.certsDir, reportDir: config.reportDir, lab: { hosts: config.labHosts },
    timeouts: { scenarioMs: config.scenarioTimeoutMs, commandMs: config.commandTimeoutMs, helloMs: config.helloTimeoutMs },
    repeat: config.repeat,
    budgets: Object.fromEntries(config.budgets.map((b) => [b.metric, b.expression.slice(b.metric.length + 1)])),
  };
  // (not where each value came from: another file, and defaults written out as fields)
  const { sources: _again, ...reread } = validateConfig(JSON.parse(JSON.stringify(written)), 'again');
  const { sources: _first, ...first } = config;
  expect(reread).to.deep.equal(first);
}

function expectSaneTarget(url: string): boolean {
  let target;
  try {
    target = resolveTarget(url);
  } catch (err) {
    expectCleanError(err, UsageError);
    return false;
  }
  expect(KINDS.map((k) => k.kind)).to.include(target.kind);
  expect(['agent', 'hello']).to.include(target.reset);
  expectCleanMessage(target.description);
  if (target.kind === 'serial') {
    const m = /^serial (\/.*) at (\d+) baud$/.exec(target.description);
    expect(m, target.description).to.not.equal(null);
    expect(Number(m![2])).to.be.within(300, 5_000_000);
  }
  if (target.kind === 'tcp') {
    const m = /^tcp (.+):(\d+)$/.exec(target.description);
    expect(m, target.description).to.not.equal(null);
    expect(isIP(m![1]!) !== 0 || HOST_NAME.test(m![1]!), `tcp host ${JSON.stringify(m![1])}`).to.equal(true);
    expect(Number(m![2])).to.be.within(1, 65535);
  }
  if (target.kind === 'rfc2217') {
    const m = /^rfc2217 (\[[^\]]+\]|[^:]+):(\d+) at (\d+) baud( \(SET-CONTROL answers ignored\))?$/.exec(target.description);
    expect(m, target.description).to.not.equal(null);
    const host = m![1]!.replace(/^\[|\]$/g, '');
    expect(isIP(host) !== 0 || HOST_NAME.test(host), `rfc2217 host ${JSON.stringify(host)}`).to.equal(true);
    expect(Number(m![2])).to.be.within(1, 65535);
    expect(Number(m![3])).to.be.within(300, 5_000_000);
  }
  return true;
}

// =================================================================================================

describe('fault catalogue: fuzz', function () {
  this.timeout(60_000);

  after(function () {
    // For the record (issue 7 asks for the counts): one line per property.
    for (const t of tallies) console.log(`      fuzz ${t.name}: ${t.tried} inputs, ${t.clean} clean errors, ${t.accepted} accepted`);
  });

  describe('hilt.config.json', function () {
    const valid = {
      target: 'serial:/dev/ttyUSB0?baud=115200', certsDir: 'certs', reportDir: 'reports', lab: { hosts: ['192.168.1.20', 'bench.local'] },
      timeouts: { scenarioMs: 60_000, commandMs: 15_000, helloMs: 5_000 }, repeat: 5, budgets: { tls_ms: '<= 2000', heap_peak_used: '< 48 KiB' },
    };

    const check = (raw: unknown): boolean => {
      let config: RunConfig;
      try {
        config = validateConfig(raw, 'hilt.config.json');
      } catch (err) {
        expectCleanError(err, UsageError);
        expect((err as Error).message).to.match(/^hilt\.config\.json: /);
        return false;
      }
      expectSaneConfig(config);
      return true;
    };

    it('any JSON value', function () {
      fc.assert(fc.property(fc.jsonValue(), counted(tally('config, any JSON value'), check)), { seed: SEED, numRuns: 400 });
    });

    it('a valid config with fields changed, added and taken away', function () {
      const field = fc.constantFrom(...Object.keys(valid), 'lab.hosts', 'timeouts.scenarioMs', 'timeouts.commandMs', 'timeouts.helloMs', 'budgets.tls_ms', 'budgets.heap_leak');
      const odd = fc.oneof(
        fc.jsonValue(), anyText(), fc.integer(), fc.double(), fc.constant(''),
        fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'),
        fc.constantFrom('<= 2000', '<= 1e3', '<= -1', `<= ${'9'.repeat(400)}`, '<= 4 KiB', '>= 0.5 s', '<=2000ms', '== 5'),
        fc.array(anyText(), { maxLength: 3 }),
      );
      const key = fc.oneof(anyText(12), fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'tls_ms', 'hosts'));
      const change = fc.tuple(fc.constantFrom('set', 'delete', 'add'), field, odd, key);
      const config = fc.array(change, { minLength: 1, maxLength: 4 }).map((changes) => {
        const raw = JSON.parse(JSON.stringify(valid)) as Record<string, Record<string, unknown>>;
        for (const [op, path, value, k] of changes) {
          const [top, sub] = path.split('.') as [string, string | undefined];
          const holder = sub ? raw[top] : raw;
          if (holder === null || typeof holder !== 'object') continue;
          const name = sub ?? top;
          // defineProperty: JSON.parse makes "__proto__" an own key too, and so must we.
          if (op === 'set') Object.defineProperty(holder, name, { value, enumerable: true, writable: true, configurable: true });
          else if (op === 'delete') delete (holder as Record<string, unknown>)[name];
          else Object.defineProperty(holder, k, { value, enumerable: true, writable: true, configurable: true });
        }
        return raw;
      });
      fc.assert(fc.property(config, counted(tally('config, mutated valid config'), check)), { seed: SEED, numRuns: 600 });
    });

    describe('files', function () {
      let dir: string;
      let remove: () => Promise<void>;
      before(async () => { ({ dir, remove } = await tempDir('hilt-fuzz-config-')); });
      after(() => remove());

      const load = async (content: Uint8Array | string): Promise<boolean> => {
        const path = join(dir, 'hilt.config.json');
        await writeFile(path, content);
        let config: RunConfig;
        try {
          config = await bounded(2_000, `loadConfig of ${JSON.stringify(String(content).slice(0, 80))}`, loadConfig(path, true));
        } catch (err) {
          expectCleanError(err, UsageError);
          expect((err as Error).message.startsWith(`${path}: `), (err as Error).message).to.equal(true);
          return false;
        }
        expectSaneConfig(config);
        return true;
      };

      it('random bytes', async function () {
        await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), countedAsync(tally('config file, random bytes'), load)), { seed: SEED, numRuns: 200 });
      });

      it('a valid file with its text edited', async function () {
        const text = JSON.stringify(valid, null, 2);
        await fc.assert(fc.asyncProperty(mutated(text), countedAsync(tally('config file, edited text'), load)), { seed: SEED, numRuns: 300 });
      });
    });
  });

  describe('--target', function () {
    let dir: string;
    let remove: () => Promise<void>;
    let sdkconfig: string;
    before(async () => {
      ({ dir, remove } = await tempDir('hilt-fuzz-target-'));
      sdkconfig = join(dir, 'sdkconfig');
      await writeFile(sdkconfig, REFERENCE_SDKCONFIG);
    });
    after(() => remove());

    it('random strings', function () {
      const url = fc.oneof(anyText(60), fc.tuple(fc.constantFrom('serial:', 'tcp:', 'emulator:', 'emulator', 'serial:/', 'tcp:[::1]:', 'rfc2217://', 'rfc2217://[::1]:'), anyText(30)).map(([a, b]) => a + b));
      fc.assert(fc.property(url, counted(tally('target, random string'), expectSaneTarget)), { seed: SEED, numRuns: 800 });
    });

    it('valid targets, edited', function () {
      const valid = fc.constantFrom<string>(
        'serial:/dev/ttyUSB0?baud=115200&reset=none', 'serial:/dev/ttyACM0', 'tcp:127.0.0.1:5555', 'tcp:[::1]:5555?reset=none',
        'tcp:bench.local:4000', 'emulator', `emulator:?sdkconfig=${sdkconfig}&heap=100000&realtime=1`, 'emulator:?realtime=0',
        'rfc2217://127.0.0.1:4000?ign_set_control', 'rfc2217://[::1]:4000?baud=921600&mode=firmware',
      );
      const option = fc.tuple(fc.constantFrom('baud', 'reset', 'heap', 'realtime', 'sdkconfig', 'parity', 'ign_set_control', ''), anyText(8));
      const url = fc.tuple(valid, fc.array(option, { maxLength: 2 })).chain(([base, extra]) => {
        const withOptions = extra.reduce((u: string, [k, v]) => `${u}${u.includes('?') ? '&' : '?'}${k}=${v}`, base);
        return fc.oneof(fc.constant(withOptions), mutated(withOptions));
      });
      fc.assert(fc.property(url, counted(tally('target, edited valid target'), expectSaneTarget)), { seed: SEED, numRuns: 1200 });
    });
  });

  describe('command line', function () {
    let dir: string;
    let remove: () => Promise<void>;
    let home: string;
    before(async function () {
      ({ dir, remove } = await tempDir('hilt-fuzz-cli-'));
      // A folder a user would run from: scenarios to find, so a bad --target is what stops the run.
      await mkdir(join(dir, 'scenarios'));
      await writeFile(join(dir, 'scenarios', '01-never-loaded.spec.ts'), 'throw new Error("the fuzz must not start a run");\n');
      // Config files a user got wrong, for --config.
      await writeFile(join(dir, 'repeat-zero.json'), '{"repeat": 0}');
      await writeFile(join(dir, 'not-json.json'), 'target: emulator\n');
      await writeFile(join(dir, 'odd-field.json'), '{"tar\\nget": "emulator"}');
      home = process.cwd();
      // main() loads a command's modules when it is first named: load them all now, outside the
      // bound on each case, which is for hangs and not for a busy machine compiling hilt.
      this.timeout(60_000);
      await buildProgram('all');
    });
    after(() => remove());

    const refusedTarget = anyText(30).filter((s) => {
      try {
        resolveTarget(s);
        return false;
      } catch {
        return true;
      }
    });
    const notWhole = (min: number, max: number) => anyText(8).filter((s) => s !== '' && !(/^\d+$/.test(s) && Number(s) >= min && Number(s) <= max));
    const notRegExp = fc.constantFrom('(', '[a-', '*x', 'a{2,1}', '(?<n>a)(?<n>b)', '\\');
    const word = fc.stringMatching(/^[a-z][a-z-]{0,10}$/);

    /**
     * Each command line carries at least one thing its command must refuse before it starts any
     * work, among flags that are fine, in any order.
     */
    const poisoned: Record<string, { poison: fc.Arbitrary<string[]>; fine: fc.Arbitrary<string[]> }> = {
      run: {
        poison: fc.oneof(
          refusedTarget.map((t) => ['--target', t]), notWhole(1, 1000).map((n) => ['--repeat', n]), notRegExp.map((g) => ['--grep', g]),
          word.map((w) => ['--config', `no-such-${w}.json`]), fc.constantFrom('repeat-zero.json', 'not-json.json', 'odd-field.json').map((f) => ['--config', f]), word.map((w) => [`--${w}x`]), word.map((w) => [`missing-${w}.spec.ts`]),
        ),
        fine: fc.constantFrom(['--bail'], ['--repeat', '2'], ['--grep', 'tls'], ['--report-dir', 'out'], ['--certs', 'lab']),
      },
      emulate: {
        poison: fc.oneof(
          notWhole(0, 1000).map((n) => ['--count', n]), notWhole(0, 8 * 1024 * 1024).map((n) => ['--heap', n]),
          fc.constant<string[]>(['--pty', '--tcp', '0']), fc.constant<string[]>(['--count', '2']), word.map((w) => ['--sdkconfig', `no-such-${w}`]),
          word.map((w) => [`--${w}x`]), word,
        ).map((p) => (Array.isArray(p) ? p : [p])),
        fine: fc.constantFrom(['--realtime'], ['--json'], ['--heap', '100000']),
      },
      broker: {
        poison: fc.oneof(
          fc.oneof(anyText(8), fc.constantFrom('0x22b3', '1e3', ' 8883', '')).filter((s) => !(/^\d{1,5}$/.test(s) && Number(s) <= 65519)).map((p) => ['--port-base', p]),
          fc.constantFrom('a b', 'x_y!', 'http://x', '-').map((h) => ['--host', h]), word.map((w) => [`--${w}x`]), word,
        ).map((p) => (Array.isArray(p) ? p : [p])),
        fine: fc.constantFrom(['--json'], ['--profiles', 'good'], ['--dir', 'lab']),
      },
      certs: {
        poison: fc.oneof(
          fc.constantFrom('a b', 'x_y!', '-', 'exa mple.com').map((h) => ['--host', h]), word.map((w) => [`--${w}x`]),
          // A device id is checked before the PKI is touched (DEL, C1 codes and U+2028/9 printed escaped).
          anyText(12).filter((id) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) && !id.startsWith('-'))
            .map((id) => ['device', id]),
        ),
        fine: fc.constantFrom(['--dir', 'lab'], ['--force']),
      },
    };
    const argv = fc.oneof(
      ...Object.entries(poisoned).map(([command, { poison, fine }]) => fc.tuple(poison, fc.array(fine, { maxLength: 3 }), fc.nat())
        // The poison goes between two whole flags, never between a flag and its value.
        .map(([p, allFine, at]) => {
          // A later --heap 100000 would override a poisoned --heap: the last one wins.
          const fine = allFine.filter((f) => !p.includes(f[0]!));
          const i = at % (fine.length + 1);
          return [command, ...fine.slice(0, i).flat(), ...p, ...fine.slice(i).flat()];
        })),
      word.filter((w) => !['run', 'certs', 'broker', 'emulate', 'help'].includes(w)).map((w) => [w]),
      fc.tuple(fc.constantFrom('run', 'certs', 'broker', 'emulate'), fc.constantFrom('--target', '--repeat', '--dir', '--count', '--port-base', '--host'))
        .map(([command, flag]) => [command, flag]),
    );

    /** main() in this process, its output captured, in the user's folder. */
    async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      let stdout = '';
      let stderr = '';
      const out = process.stdout.write;
      const err = process.stderr.write;
      process.stdout.write = ((chunk: string | Uint8Array) => { stdout += String(chunk); return true; }) as typeof process.stdout.write;
      process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
      process.chdir(dir);
      try {
        const code = await bounded(5_000, `hilt ${JSON.stringify(args)}`, main(['node', 'hilt', ...args]));
        return { code, stdout, stderr };
      } finally {
        process.chdir(home);
        process.stdout.write = out;
        process.stderr.write = err;
      }
    }

    function expectRefused(args: string[], ran: { code: number; stdout: string; stderr: string }): void {
      const what = `hilt ${JSON.stringify(args)} -> ${ran.code}, stderr ${JSON.stringify(ran.stderr)}`;
      expect(ran.code, what).to.equal(2);
      const lines = ran.stderr.split('\n');
      expect(lines.length, what).to.equal(2);
      expect(lines[1], what).to.equal('');
      expect(lines[0], what).to.match(/^(hilt|error): /);
      expectCleanMessage(lines[0]!);
    }

    it('argument lists that must be refused, in process', async function () {
      const t = tally('command line, in process');
      await fc.assert(fc.asyncProperty(argv, async (args) => {
        t.tried += 1;
        expectRefused(args, await inProcess(args));
        t.clean += 1;
      }), { seed: SEED, numRuns: 250 });
    });

    it('a sample of them through bin/hilt.js, as a user runs it', async function () {
      const t = tally('command line, child processes');
      const sample = fc.sample(argv, { seed: SEED, numRuns: 8 });
      for (let i = 0; i < sample.length; i += 4) {
        await Promise.all(sample.slice(i, i + 4).map(async (args) => {
          t.tried += 1;
          expectRefused(args, await hilt(args, { cwd: dir, timeoutMs: 15_000 }));
          t.clean += 1;
        }));
      }
    });

    it('--help and --version answer on stdout and exit 0', async function () {
      for (const args of [['--help'], ['--version'], ['run', '--help'], ['certs', '--help'], ['broker', '--help'], ['emulate', '--help'], ['help', 'run']]) {
        const ran = await inProcess(args);
        expect(ran.code, args.join(' ')).to.equal(0);
        expect(ran.stderr).to.equal('');
        expect(ran.stdout).to.not.equal('');
      }
    });
  });

  describe('agent protocol', function () {
    const ID = fc.oneof(fc.integer({ min: 1, max: MAX_ID }).map(String), fc.constantFrom('0', '-1', '01', '2147483648', '1e3', '*', ''), anyText(6));
    const token = fc.oneof(
      fc.tuple(fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/), anyText(12)).map(([k, v]) => `${k}=${v}`),
      anyText(12),
      fc.constantFrom('=', 'a=', '=b', 'a==b', 'part=1/1', 'data=QUJD', '__proto__=x', 'constructor=1'),
    );

    it('host lines, as a device reads them', function () {
      const line = fc.oneof(
        anyText(80),
        fc.tuple(ID, fc.oneof(fc.constantFrom(...COMMANDS), anyText(12)), fc.array(token, { maxLength: 5 }), fc.constantFrom(' ', '  '))
          .map(([id, command, args, gap]) => `${PREFIX}${[id, command, ...args].join(gap)}`),
        fc.tuple(fc.integer({ min: 1, max: MAX_ID }), fc.nat({ max: 3000 })).map(([id, n]) => `${PREFIX}${id} store.put slot=x kind=ca data=${'A'.repeat(n)}`),
      );
      const input = fc.tuple(line, fc.boolean()).map(([text, truncated]) => ({ text, truncated }));
      const check = (line: Line): boolean => {
        const parsed = parseHostLine(line);
        if (!line.text.startsWith(PREFIX)) {
          expect(parsed).to.equal(null);
          return false;
        }
        expect(parsed).to.not.equal(null);
        if (!parsed!.ok) {
          expect(ERR_CODES).to.include(parsed!.code);
          expectCleanMessage(parsed!.message);
          if (parsed!.id !== null) expect(parsed!.id).to.be.within(1, MAX_ID);
          return false;
        }
        const { command } = parsed!;
        expect(line.truncated).to.equal(false);
        expect(Buffer.byteLength(line.text)).to.be.at.most(MAX_HOST_LINE);
        expect(command.id).to.be.within(1, MAX_ID);
        expect(COMMANDS).to.include(command.command);
        for (const [key, value] of Object.entries(command.args)) {
          expect(key).to.match(/^[a-z_][a-z0-9_]*$/);
          expect(value).to.not.equal('').and.not.match(/[\s\p{Cc}]/u);
        }
        // What was accepted is what the host's encoder would have sent.
        const again = parseHostLine(encodeCommand(command.id, command.command, command.args));
        expect(again).to.deep.equal(parsed);
        return true;
      };
      fc.assert(fc.property(input, counted(tally('protocol, host lines'), check)), { seed: SEED, numRuns: 1500 });
    });

    it('commands, as the harness encodes them', function () {
      const value: fc.Arbitrary<ArgValue | undefined | null> = fc.oneof(
        anyText(20), fc.integer(), fc.double(), fc.boolean(), fc.array(anyText(6), { maxLength: 3 }), fc.constant(undefined), fc.constant(null),
        fc.nat({ max: 2000 }).map((n) => 'A'.repeat(n)),
      );
      const input = fc.tuple(
        fc.oneof(fc.integer({ min: 1, max: MAX_ID }), fc.integer(), fc.double()),
        fc.oneof(fc.constantFrom(...COMMANDS), anyText(12)),
        fc.dictionary(fc.oneof(fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/), anyText(6)), value, { maxKeys: 4 }),
      );
      const check = ([id, command, args]: [number, string, Record<string, ArgValue | undefined | null>]): boolean => {
        let line: string;
        try {
          line = encodeCommand(id, command, args);
        } catch (err) {
          expectCleanError(err, ProtocolError);
          expect(['bad_args', 'too_long']).to.include((err as ProtocolError).code);
          return false;
        }
        const parsed = parseHostLine(line);
        expect(Buffer.byteLength(line)).to.be.at.most(MAX_HOST_LINE);
        // A command the device does not know is the device's to refuse; anything else must parse.
        if (!COMMANDS.includes(command)) {
          expect(parsed).to.include({ ok: false, code: 'unknown_command' });
          return true;
        }
        expect(parsed, line).to.include({ ok: true });
        expect(Object.keys((parsed as { command: { args: object } }).command.args)).to.deep.equal(Object.keys(args).filter((k) => args[k] !== undefined && args[k] !== null));
        return true;
      };
      fc.assert(fc.property(input, counted(tally('protocol, encoded commands'), check)), { seed: SEED, numRuns: 1000 });
    });

    it('device lines, as the harness reads them', function () {
      const body = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.object().map((o) => JSON.stringify(o)),
        fc.tuple(fc.object(), fc.nat()).map(([o, n]) => JSON.stringify(o).slice(0, n % 40)),
        anyText(30),
        fc.constantFrom('{"code":"busy","message":"x"}', '{"code":1}', '{}', '[]', 'null', '{"__proto__":{"x":1}}'),
      );
      const line = fc.oneof(
        anyText(80),
        fc.tuple(fc.oneof(ID, fc.constant('*')), fc.oneof(fc.constantFrom('ok', 'err', 'boot', 'mqtt.message'), anyText(8)), body, fc.constantFrom(' ', '  ', ''))
          .map(([id, word, b, gap]) => `${PREFIX}${id}${gap || ' '}${word}${gap}${b}`),
      );
      const input = fc.tuple(line, fc.boolean()).map(([text, truncated]) => ({ text, truncated }));
      const check = (line: Line): boolean => {
        const parsed = parseDeviceLine(line);
        if (!line.text.startsWith(PREFIX)) {
          expect(parsed).to.deep.equal({ kind: 'console', text: line.text });
          return true;
        }
        if (parsed.kind === 'garbled') {
          expect(parsed.text).to.equal(line.text);
          expectCleanMessage(parsed.problem);
          return false;
        }
        expect(line.truncated).to.equal(false);
        if (parsed.kind === 'console') throw new Error(`a protocol line read as console text: ${JSON.stringify(line.text)}`);
        expect(parsed.body).to.be.an('object').and.not.be.an('array');
        if (parsed.kind === 'reply') {
          expect(parsed.id).to.be.within(1, MAX_ID);
          if (parsed.status === 'err') expect(parsed.body.code).to.be.a('string');
        } else {
          expect(parsed.name).to.match(/^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/);
        }
        return true;
      };
      fc.assert(fc.property(input, counted(tally('protocol, device lines'), check)), { seed: SEED, numRuns: 1500 });
    });

    it('replies and events survive the wire unchanged', function () {
      const input = fc.tuple(fc.integer({ min: 1, max: MAX_ID }), fc.constantFrom('ok', 'err') as fc.Arbitrary<'ok' | 'err'>, fc.object(), fc.stringMatching(/^[a-z][a-z0-9_]{0,6}(\.[a-z][a-z0-9_]{0,6})?$/));
      const check = ([id, status, body, name]: [number, 'ok' | 'err', Record<string, unknown>, string]): boolean => {
        const wire = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
        const errBody = { ...wire, code: 'busy', message: 'x' };
        const reply = parseDeviceLine(encodeReply(id, status, status === 'err' ? errBody : body));
        expect(reply).to.deep.equal({ kind: 'reply', id, status, body: status === 'err' ? errBody : wire });
        expect(parseDeviceLine(encodeEvent(name, body))).to.deep.equal({ kind: 'event', name, body: wire });
        return true;
      };
      fc.assert(fc.property(input, counted(tally('protocol, encoded replies and events'), check)), { seed: SEED, numRuns: 300 });
    });

    it('bytes of any kind, split into lines and read', function () {
      const chunks = fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), anyText(60).map((s) => Buffer.from(s))), { maxLength: 8 });
      const check = (pieces: Uint8Array[]): boolean => {
        const splitter = new LineSplitter({ maxLineBytes: 128 });
        const lines: Line[] = [];
        splitter.on('data', (line: Line) => lines.push(line));
        for (const piece of pieces) splitter.write(Buffer.from(piece));
        splitter.end();
        for (const line of lines) {
          // The bound is on the bytes received; an invalid byte decodes to U+FFFD, three bytes.
          expect(Buffer.byteLength(line.text)).to.be.at.most(3 * 128);
          const parsed = parseDeviceLine(line);
          if (parsed.kind === 'garbled') expectCleanMessage(parsed.problem);
          const host = parseHostLine(line);
          if (host && !host.ok) expectCleanMessage(host.message);
        }
        return lines.length > 0;
      };
      fc.assert(fc.property(chunks, counted(tally('protocol, byte streams (accepted = gave lines)'), check)), { seed: SEED, numRuns: 300 });
    });

    it('command arguments, as a device decodes them', function () {
      const input = fc.tuple(fc.constantFrom('int', 'bool', 'base64', 'list', 'enum', 'part'), fc.oneof(
        anyText(12), fc.integer().map(String), fc.constantFrom('010', '-0', '00', '+5', '0x10', '1e3', '1/1', '0/1', '2/1', '1000/1000', '1/1001', 'QUJD', 'QUI=', 'QUJ=', 'a,,b', ',', 'a,b'),
        fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('base64')),
      ));
      const check = ([kind, value]: [string, string]): boolean => {
        const args = { v: value };
        let shown: string;
        try {
          switch (kind) {
            case 'int': shown = String(argInt(args, 'v', { min: -100_000, max: 100_000 })); break;
            case 'bool': shown = argBool(args, 'v') ? '1' : '0'; break;
            case 'base64': shown = argBase64(args, 'v').toString('base64'); break;
            case 'list': shown = argList(args, 'v').join(','); break;
            case 'enum': shown = argEnum(args, 'v', ['1.2', '1.3', 'any']); break;
            default: { const p = argPart(args, 'v'); shown = `${p.index}/${p.count}`; }
          }
        } catch (err) {
          expectCleanError(err, ProtocolError);
          expect((err as ProtocolError).code).to.equal('bad_args');
          return false;
        }
        // Strict decoding: a value is accepted only in the one spelling that means it.
        expect(shown, `${kind} ${JSON.stringify(value)}`).to.equal(value);
        return true;
      };
      fc.assert(fc.property(input, counted(tally('protocol, command arguments'), check)), { seed: SEED, numRuns: 1500 });
    });
  });
});
