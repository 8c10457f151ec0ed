/**
 * The `notify test` command's implementation.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, resolveProfile } from '../config/index.js';
import { type Receiver, runReceivers } from '../notify/receivers.js';
import { NotifyError, sendToReceiver } from '../notify/send.js';
import { oneLine } from '../util/escape.js';
import type { CommonOptions } from './commands/common.js';
import { ExitCode } from './exit-codes.js';

/** Sends a test event to each receiver (all profiles, or `--profile`); 0 when every one took it, else 1. */
export async function notifyTestAction(flags: CommonOptions & { profile?: string }): Promise<number> {
  const loaded = await loadConfig(flags.config ? { file: flags.config } : {});
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  const config = loaded.config;
  const names = flags.profile ? [resolveProfile(config, flags.profile)[0]] : Object.keys(config.profiles);
  const targets: { receiver: Receiver; profile: string; tier?: string }[] = [];
  const seen = new Set<string>();
  for (const profile of names) {
    const p = config.profiles[profile];
    if (!p) continue;
    for (const tier of [undefined, ...Object.keys(p.tiers)]) {
      // The kind is not a filter here: every receiver gets the test.
      for (const kind of ['backup', 'forget', 'check', 'stats'] as const) {
        for (const receiver of runReceivers(config, kind, profile, tier)) {
          if (seen.has(receiver.key)) continue;
          seen.add(receiver.key);
          targets.push({ receiver, profile, ...(tier !== undefined ? { tier } : {}) });
        }
      }
    }
  }
  if (targets.length === 0) {
    process.stdout.write('no notification receivers are configured\n');
    return ExitCode.OK;
  }
  let failed = 0;
  const now = Date.now();
  const lines = await Promise.all(
    targets.map(async ({ receiver, profile, tier }) => {
      const message = {
        event: 'success' as const,
        at: now,
        isTest: true,
        run: {
          runId: randomUUID(),
          kind: 'backup' as const,
          profile,
          ...(tier !== undefined ? { tier } : {}),
          host: config.hostname,
          configFile: loaded.file,
          startedAt: now,
        },
      };
      try {
        const res = await sendToReceiver(receiver, message);
        if (!res) return `${receiver.label}: nothing to send for a test event`;
        const body = oneLine(res.body, 200);
        return `${receiver.label}: answered ${res.status}${body ? `: ${body}` : ''}`;
      } catch (err) {
        failed++;
        const msg = err instanceof NotifyError ? err.message : oneLine(String(err));
        const why = msg.startsWith(receiver.label)
          ? msg.slice(receiver.label.length).replace(/^:? /, '')
          : msg;
        return `${receiver.label}: not delivered: ${why}`;
      }
    }),
  );
  for (const l of lines) process.stdout.write(`${l}\n`);
  return failed > 0 ? ExitCode.FAILURE : ExitCode.OK;
}

/** Sends the queued notifications; 0 when none remains waiting, 75 when some does, 1 when one was dead-lettered. */
export async function notifyFlushAction(flags: CommonOptions): Promise<number> {
  const loaded = await loadConfig(flags.config ? { file: flags.config } : {});
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  const { flushQueuedNotifications } = await import('../notify/queue.js');
  const { allReceivers } = await import('../notify/receivers.js');
  // The config's stateDir already follows the one precedence (environment, file, default).
  const stateDir = flags.stateDir ?? loaded.config.stateDir;
  const report = await flushQueuedNotifications(stateDir, allReceivers(loaded.config));
  process.stdout.write(`${report.delivered} queued notification(s) delivered\n`);
  for (const p of report.pending) process.stdout.write(`still waiting: ${p}\n`);
  for (const d of report.dead) process.stdout.write(`moved to the dead-letter folder: ${d}\n`);
  if (report.dead.length > 0) return ExitCode.FAILURE;
  return report.pending.length > 0 ? ExitCode.TEMPFAIL : ExitCode.OK;
}
