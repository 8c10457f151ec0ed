/**
 * `resticprom daemon`: runs every tier's backup and every profile's scheduled check
 * and stats on their schedules and serves /metrics, the
 * status page and its JSON API until SIGTERM or SIGINT; SIGHUP reloads the config.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { runAction } from '../run-action.js';

interface DaemonFlags {
  config?: string;
  listen?: string;
  stateDir?: string;
  logFormat?: 'text' | 'json';
  quiet?: boolean;
}

/** Declares the `daemon` command. */
export function register(program: Command): void {
  program
    .command('daemon')
    .description(
      'run every tier, check and stats on its schedule; serve /metrics, /healthz, /api/status and a status page',
    )
    .option(
      '-c, --config <file>',
      'config file (default: $RESTICPROM_CONFIG, ./resticprom.yaml, /etc/resticprom/resticprom.yaml)',
    )
    .option('-l, --listen <host:port>', 'HTTP address (default: daemon.listen, else 127.0.0.1:9987)')
    .option('--state-dir <dir>', 'state directory (outbox, history, locks, latest metrics)')
    .option('-q, --quiet', 'print only warnings and errors')
    .addOption(
      new Option('--log-format <format>', "log format (default: the config's log-format, else text)").choices(
        ['text', 'json'],
      ),
    )
    .action(runAction(daemonAction));
}

async function daemonAction(flags: DaemonFlags): Promise<number> {
  const [{ startDaemon }, { createLogger }] = await Promise.all([
    import('../../schedule/daemon.js'),
    import('../output.js'),
  ]);
  // The log format may come from the config; peek at it before the daemon's own loading.
  const { loadConfig } = await import('../../config/index.js');
  const peek = await loadConfig(flags.config ? { file: flags.config } : {}).then(
    (l) => l.config,
    () => undefined, // the daemon's own load reports the problem
  );
  const format = flags.logFormat ?? peek?.logFormat ?? 'text';
  // A daemon's text log is read later (docker logs, a file): every line says when.
  const log = createLogger({
    format,
    quiet: Boolean(flags.quiet),
    isTimestamped: true,
    ...(peek?.timezone ? { timeZone: peek.timezone } : {}),
  });
  const daemon = await startDaemon({
    ...(flags.config ? { configFile: flags.config } : {}),
    ...(flags.listen ? { listen: flags.listen } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    log,
  });
  const onStop = (sig: NodeJS.Signals) => {
    log.info(`${sig} received: stopping`);
    void daemon.stop();
  };
  const onHup = () => {
    log.info('SIGHUP received: reloading the configuration');
    void daemon.reload();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  try {
    await daemon.stopped;
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  }
  return ExitCode.OK;
}
