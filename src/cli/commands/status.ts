/**
 * `resticprom status`: the state of every profile and tier (OK, WAITING, LATE, FAILED,
 * NEVER) as a table or JSON. Exits 0 when all are OK or WAITING, 4 (UNHEALTHY) otherwise,
 * so it works as a check in scripts and monitoring.
 */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { writeLine } from '../output.js';
import { runAction } from '../run-action.js';

interface StatusFlags {
  config?: string;
  stateDir?: string;
  json?: boolean;
  verbose?: boolean;
}

/** Declares the `status` command. */
export function register(program: Command): void {
  program
    .command('status')
    .description(
      'show every profile and tier: OK, WAITING, LATE, FAILED or NEVER; exits 4 unless all are OK or WAITING',
    )
    .option(
      '-c, --config <file>',
      'config file (default: $RESTICPROM_CONFIG, ./resticprom.yaml, /etc/resticprom/resticprom.yaml)',
    )
    .option('--state-dir <dir>', 'state directory (outbox, history, locks)')
    .option('--json', 'print JSON instead of a table')
    .option('-v, --verbose', "the wide table: a failed tier's reason and error message in columns")
    .action(runAction(statusAction));
}

async function statusAction(flags: StatusFlags): Promise<number> {
  const [{ loadConfigCached }, { computeStatus, formatStatusTable, isHealthy }, { hasColor }] =
    await Promise.all([
      import('../../config/cache.js'),
      import('../../state/status.js'),
      import('../output.js'),
    ]);
  const loaded = await loadConfigCached({
    ...(flags.config ? { file: flags.config } : {}),
    stateDir: flags.stateDir,
  });
  for (const w of loaded.warnings) writeLine(process.stderr, `warning: ${w}`);
  const report = await computeStatus({
    config: loaded.config,
    stateDir: loaded.config.stateDir,
  });
  for (const w of report.warnings) writeLine(process.stderr, `warning: ${w}`);
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ now: report.now, rows: report.rows, deliveries: report.deliveries }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      formatStatusTable(report, {
        timeZone: loaded.config.timezone,
        isColored: hasColor(process.stdout),
        isWide: Boolean(flags.verbose),
      }),
    );
  }
  return isHealthy(report.rows) ? ExitCode.OK : ExitCode.UNHEALTHY;
}
