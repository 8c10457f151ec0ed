/**
 * `resticprom flush`: delivers what waits in the outbox, oldest first, and says what was
 * delivered, what still waits and what was dead-lettered.
 */
import type { Command } from 'commander';
import { OutboxBusyError } from '../../errors.js';
import type { HttpOptions } from '../../sinks/types.js';
import { addDestinationOptions, type DestinationFlags } from '../destinations.js';
import { ExitCode } from '../exit-codes.js';
import { runAction } from '../run-action.js';
import { addOutboxOptions, makeLog, type OutboxFlags, parseOutboxLimits } from './push.js';

/** Flags of `flush`. */
export interface FlushFlags extends DestinationFlags, OutboxFlags {}

/** Declares the `flush` command. */
export function register(program: Command): void {
  const cmd = program
    .command('flush')
    .description('deliver what waits in the outbox (oldest first); exit 0 when nothing remains')
    .addHelpText(
      'after',
      `
Entries for a destination of the config (--config, else $RESTICPROM_CONFIG, ./resticprom.yaml or
/etc/resticprom/resticprom.yaml when there is one) or of
the destination flags are sent with those current settings, secrets included. Other entries
are sent with their stored settings only when that reads no file or variable they name (a
password file, a token variable, a TLS file; a textfile outside the state directory): such
entries wait for a flush with the config or flags that name their destination. A secret
that was given inline is not stored: pass it with the same destination flags as the push
(e.g. --gateway URL --basic-auth-user U --basic-auth-password-file F); auth flags without a
destination apply to every target. With a config file (--config, $RESTICPROM_CONFIG,
./resticprom.yaml, /etc/resticprom/resticprom.yaml), the credentials of its destinations are
read now, in this process (under systemd: from this unit's own $CREDENTIALS_DIRECTORY).

Exit codes: 0 nothing remains pending; 75 some remains pending; 1 something was
dead-lettered in this flush.`,
    );
  addDestinationOptions(cmd);
  addOutboxOptions(cmd);
  cmd.action(runAction(async (flags: FlushFlags) => flushAction(flags)));
}

async function flushAction(flags: FlushFlags): Promise<number> {
  const { parseDestinations, parseHttpOptions } = await import('../destinations.js');
  const { flushPending } = await import('../../sinks/deliver.js');
  const { commandStateDir } = await import('../state-dir.js');
  const log = await makeLog(flags);
  // RESTICPROM_GATEWAY is a default for new pushes, not a filter on what waits.
  const config = await loadFlushConfig(flags);
  const configured = config ? await import('../../config/destinations.js') : undefined;
  const destinations = [
    ...parseDestinations(flags, { ...process.env, RESTICPROM_GATEWAY: undefined }),
    ...(config && configured ? configured.configuredDestinations(config) : []),
  ];
  const hasAuthFlag = Boolean(
    flags.basicAuthUser || flags.basicAuthPasswordFile || flags.bearerTokenFile || flags.header?.length,
  );
  let global: Partial<HttpOptions> | undefined;
  if (destinations.length === 0 && hasAuthFlag) {
    const http = parseHttpOptions(flags, process.env);
    global = {
      ...(http.basicAuth ? { basicAuth: http.basicAuth } : {}),
      ...(http.bearerToken ? { bearerToken: http.bearerToken } : {}),
      ...(http.headers ? { headers: http.headers } : {}),
    };
  }
  const stateDir = await commandStateDir(flags);
  let report: Awaited<ReturnType<typeof flushPending>>;
  try {
    report = await flushPending({
      stateDir,
      outbox: parseOutboxLimits(flags),
      targets: destinations,
      ...(global ? { credentials: () => global } : {}),
      // Recorded runs whose metrics were lost are re-queued only to where the config sends them now.
      ...(config && configured ? { requeue: configured.requeueRoutes(config) } : {}),
      sendOptions: { env: process.env },
    });
  } catch (err) {
    if (err instanceof OutboxBusyError) {
      log.error(`${err.message}; nothing flushed, entries stay pending`);
      return ExitCode.TEMPFAIL;
    }
    throw err;
  }
  const { writeLine } = await import('../output.js');
  const out = (s: string) => writeLine(process.stdout, s);
  const labels = (g: Record<string, string>) =>
    Object.entries(g)
      .map(([k, v]) => `, ${k}=${v}`)
      .join('');
  for (const r of report.requeued)
    out(`requeued ${r.id} for ${r.target} (job ${r.job}${labels(r.grouping)}): ${r.reason}`);
  for (const w of report.warnings) log.warn(w);
  for (const d of report.delivered)
    out(`delivered ${d.id} to ${d.target} (job ${d.job}${labels(d.grouping)})`);
  for (const s of report.superseded)
    out(`superseded ${s.id} for ${s.target} (job ${s.job}${labels(s.grouping)}): ${s.reason}`);
  for (const p of report.pending)
    out(`pending ${p.id} for ${p.target} (job ${p.job}${labels(p.grouping)}): ${p.reason}`);
  for (const d of report.deadLettered) {
    out(`dead-lettered ${d.id} for ${d.target} (job ${d.job}${labels(d.grouping)}): ${d.reason}`);
    log.error(`${d.reason}; refused, dead-lettered in ${report.outboxDir}/dead`, {
      id: d.id,
      destination: d.target,
    });
  }
  for (const c of report.corrupt) {
    out(`dead-lettered ${c.file}: ${c.reason}`);
    log.error(`${c.file}: ${c.reason}; moved to ${report.outboxDir}/dead`, { file: c.file });
  }
  const dead = report.deadLettered.length + report.corrupt.length;
  out(
    `flush: ${report.delivered.length} delivered, ${report.remaining} pending, ${dead} dead-lettered, ${report.superseded.length} superseded (${report.outboxDir})`,
  );
  if (dead > 0) return ExitCode.FAILURE;
  if (report.remaining > 0) {
    log.error(
      `${report.remaining} payload${report.remaining === 1 ? '' : 's'} still pending in ${report.outboxDir}`,
    );
    return ExitCode.TEMPFAIL;
  }
  return ExitCode.OK;
}

/** The config flush uses: `--config`, else the usual lookup; none is fine. */
async function loadFlushConfig(flags: FlushFlags) {
  const { hasConfigFile, loadConfig } = await import('../../config/index.js');
  const where = flags.config ? { file: flags.config } : {};
  if (!flags.config && !(await hasConfigFile(where))) return undefined;
  return (await loadConfig(where)).config;
}
