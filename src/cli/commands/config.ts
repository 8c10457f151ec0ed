/**
 * `resticprom config init|validate|schema`: write a starter file, check a file,
 * print the file's JSON Schema.
 */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { writeLine } from '../output.js';
import { runAction } from '../run-action.js';

interface InitFlags {
  force?: boolean;
}

interface ValidateFlags {
  config?: string;
  repository?: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Declares the `config` command and its subcommands. */
export function register(program: Command): void {
  const config = program.command('config').description('write, check and describe the configuration file');

  config
    .command('init')
    .description('write a commented starter configuration (mode 0600); PATH - prints it')
    .argument('[path]', 'where to write it', 'resticprom.yaml')
    .option('-f, --force', 'overwrite an existing file')
    .action(
      runAction(async (path: string, flags: InitFlags) => {
        const { renderStarterConfig } = await import('../../config/starter.js');
        const text = renderStarterConfig();
        if (path === '-') {
          process.stdout.write(text);
          return ExitCode.OK;
        }
        const { writeStarterFile } = await import('../../config/init.js');
        const file = await writeStarterFile(path, text, { force: Boolean(flags.force) });
        process.stdout.write(
          `wrote ${file} (mode 0600); edit it, then check it with: resticprom config validate --config ${path}\n`,
        );
        return ExitCode.OK;
      }),
    );

  config
    .command('validate')
    .description(
      'check the configuration file and what it refers to (files, restic-args against the installed restic); print every problem with its line',
    )
    .option(
      '-c, --config <file>',
      'config file (default: $RESTICPROM_CONFIG, ./resticprom.yaml, /etc/resticprom/resticprom.yaml)',
    )
    .option('--repository', "also open each profile's repository with its password (restic cat config)")
    .action(
      runAction(async (flags: ValidateFlags, cmd: Command) => {
        const [{ loadConfig }, { preflightConfig }, { ConfigError, formatConfigProblem }, { escapeControl }] =
          await Promise.all([
            import('../../config/load.js'),
            import('../../jobs/preflight.js'),
            import('../../errors.js'),
            import('../../util/escape.js'),
          ]);
        const file = flags.config ?? (cmd.optsWithGlobals() as ValidateFlags).config;
        const loaded = await loadConfig(file === undefined ? {} : { file });
        for (const w of loaded.warnings) writeLine(process.stderr, `warning: ${w}`);
        const { checkNotificationSetup } = await import('../../config/notify-checks.js');
        const notifyProblems = await checkNotificationSetup(loaded);
        const report = await preflightConfig(loaded, { isRepositoryCheck: Boolean(flags.repository) });
        for (const w of report.warnings)
          process.stderr.write(`warning: ${escapeControl(formatConfigProblem(w))}\n`);
        const problems = [...notifyProblems, ...report.problems];
        if (problems.length > 0) throw new ConfigError(problems);
        const profiles = Object.values(loaded.config.profiles);
        const tiers = profiles.reduce((n, p) => n + Object.keys(p.tiers).length, 0);
        process.stdout.write(
          `ok: ${loaded.file}: ${plural(profiles.length, 'profile')}, ${plural(tiers, 'tier')}; checked ${report.checked.join(', ')}\n`,
        );
        let code: number = ExitCode.OK;
        for (const r of report.repositories) {
          process.stdout.write(`${r.profile}: ${r.state}: ${escapeControl(r.message)}\n`);
          if (code === ExitCode.OK && r.state !== 'ok') {
            code =
              r.state === 'missing'
                ? ExitCode.REPO_MISSING
                : r.state === 'wrong-password'
                  ? ExitCode.WRONG_PASSWORD
                  : ExitCode.FAILURE;
          }
        }
        return code;
      }),
    );

  config
    .command('schema')
    .description(
      "print the configuration file's JSON Schema (for editors: resticprom config schema > resticprom.schema.json)",
    )
    .action(
      runAction(async () => {
        const { configJsonSchema } = await import('../../config/schema.js');
        process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        return ExitCode.OK;
      }),
    );
}
