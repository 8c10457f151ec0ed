/**
 * The CLI declares only the invoked command (src/cli/commands/index.ts): each module's listed
 * names are exactly the top-level commands it declares, so the shortcut never declares the
 * wrong one, and a command line that names none still gets every command (help, suggestions).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { COMMAND_MODULES, commandModulesFor } from '../../src/cli/commands/index.js';
import { runCli } from '../helpers/cli.js';

const declared = (modules: ReturnType<typeof commandModulesFor>) => {
  const program = new Command().enablePositionalOptions();
  for (const m of modules) m.register(program);
  return program.commands.map((c) => c.name());
};

describe('the command modules', () => {
  it('each declares exactly the top-level names it is listed under', () => {
    for (const { names, module } of COMMAND_MODULES) assert.deepEqual(declared([module]), names);
  });

  it('a command line naming a command declares only its module', () => {
    for (const { names, module } of COMMAND_MODULES) {
      for (const name of names) {
        assert.deepEqual(commandModulesFor(['node', 'resticprom', name, '--help']), [module]);
      }
    }
  });

  it('any other command line declares every command, in help order', () => {
    const all = COMMAND_MODULES.flatMap((c) => c.names);
    for (const argv of [[], ['--help'], ['help', 'backup'], ['bakup'], ['-V']]) {
      assert.deepEqual(declared(commandModulesFor(['node', 'resticprom', ...argv])), all);
    }
  });

  it('the CLI still suggests a mistyped command and shows a command help', async () => {
    const typo = await runCli(['bakup']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /^error: unknown command 'bakup'\n\(Did you mean backup\?\)/m);
    const help = await runCli(['backup', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: resticprom backup \[options\]$/m);
    assert.match(help.stdout, /^ {2}-t, --tier <tier> /m);
  });
});
