/**
 * The lazy command table of harness/cli/main.ts: `hilt --help` lists every command without
 * loading any, and the list must read exactly as it would with every command loaded.
 */
import { expect } from 'chai';
import { COMMANDS, buildProgram, commandNamed } from '../../harness/cli/main.ts';

describe('hilt command table', function () {
  it('--help lists the commands as the loaded commands describe themselves', async function () {
    const lazy = await buildProgram();
    const loaded = await buildProgram('all');
    expect(lazy.helpInformation()).to.equal(loaded.helpInformation());
    expect(loaded.commands.map((c) => c.name())).to.deep.equal(COMMANDS.map((c) => c.name));
  });

  it('a named command is loaded in full, the others stay stand-ins', async function () {
    const program = await buildProgram(new Set(['run']));
    const [run, ...rest] = program.commands;
    expect(run!.options.map((o) => o.long)).to.include('--target');
    for (const other of rest) expect([other.options, other.commands], other.name()).to.deep.equal([[], []]);
  });

  it('finds the command an argument list names, as commander reads it', function () {
    expect(commandNamed([])).to.equal(undefined);
    expect(commandNamed(['--help'])).to.equal(undefined);
    expect(commandNamed(['-V'])).to.equal(undefined);
    expect(commandNamed(['run', '--target', 'emulator:'])).to.equal('run');
    expect(commandNamed(['--help', 'certs'])).to.equal('certs');
    expect(commandNamed(['help', 'broker'])).to.equal('broker');
    expect(commandNamed(['help'])).to.equal(undefined);
    expect(commandNamed(['--', 'emulate', 'x'])).to.equal('emulate');
    expect(commandNamed(['frobnicate'])).to.equal('frobnicate');
  });
});
