/**
 * `resticprom outbox list | retry ID | drop ID`: what waits in the outbox and what was
 * dead-lettered, and managing single entries.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { ExitCode } from '../exit-codes.js';
import { runAction } from '../run-action.js';
import { addOutboxOptions, type OutboxFlags } from './push.js';

/** Flags of the `outbox` subcommands. */
export interface OutboxCommandFlags extends OutboxFlags {
  json?: boolean;
}

/** Declares `outbox list`, `outbox retry ID` and `outbox drop ID`. */
export function register(program: Command): void {
  const outbox = program
    .command('outbox')
    .description('see and manage what waits in the outbox: list, retry ID, drop ID');
  const list = outbox
    .command('list')
    .description('list pending entries (oldest first) and dead letters, one line each')
    .option('--json', 'print JSON instead of lines');
  addOutboxOptions(list);
  list.action(runAction(async (flags: OutboxCommandFlags) => listAction(flags)));
  const retry = outbox
    .command('retry')
    .description('move a dead letter back into the outbox; the next push, backup or flush sends it')
    .argument('<id>', 'the entry id, as `outbox list` shows it');
  addOutboxOptions(retry);
  retry.action(runAction(async (id: string, flags: OutboxCommandFlags) => retryAction(id, flags)));
  const drop = outbox
    .command('drop')
    .description('remove a pending entry or a dead letter for good')
    .argument('<id>', 'the entry id, as `outbox list` shows it');
  addOutboxOptions(drop);
  drop.action(runAction(async (id: string, flags: OutboxCommandFlags) => dropAction(id, flags)));
}

async function openOutbox(flags: OutboxCommandFlags) {
  const [{ Outbox }, { ensureStateDir }, { commandStateDir }] = await Promise.all([
    import('../../sinks/outbox.js'),
    import('../../state/dir.js'),
    import('../state-dir.js'),
  ]);
  const stateDir = await ensureStateDir(await commandStateDir(flags));
  return new Outbox({ stateDir });
}

function checkId(id: string): string {
  if (!/^\d{13}-\d{6}-[0-9a-f]{8}$/.test(id)) {
    throw new UsageError(
      `${JSON.stringify(id)} is not an outbox entry id (like 1733112000000-000001-1a2b3c4d)`,
    );
  }
  return id;
}

async function listAction(flags: OutboxCommandFlags): Promise<number> {
  const { writeLine } = await import('../output.js');
  const outbox = await openOutbox(flags);
  const pending = await outbox.pending();
  const dead = await outbox.deadLetters();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ dir: outbox.dir, pending, dead }, null, 2)}\n`);
    return ExitCode.OK;
  }
  const labels = (g: Record<string, string>) =>
    Object.entries(g)
      .map(([k, v]) => `, ${k}=${v}`)
      .join('');
  const when = (ms: number) => new Date(ms).toISOString();
  const out = (s: string) => writeLine(process.stdout, s);
  for (const e of pending) {
    const tried = e.attempts > 0 ? `, ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}` : '';
    const last = e.lastError ? `: ${e.lastError}` : '';
    out(
      `pending ${e.id} for ${e.targetId} (job ${e.payload.job}${labels(e.payload.grouping)}, ${e.payload.method.toUpperCase()}, queued ${when(e.enqueuedAt)}${tried})${last}`,
    );
  }
  for (const d of dead) {
    const what = d.entry
      ? `for ${d.entry.targetId} (job ${d.entry.payload.job}${labels(d.entry.payload.grouping)})`
      : `(${d.rawFile ?? 'no entry'})`;
    out(`dead ${d.id} ${what}, ${when(d.deadAt)}: ${d.reason}`);
  }
  out(`outbox: ${pending.length} pending, ${dead.length} dead (${outbox.dir})`);
  return ExitCode.OK;
}

async function retryAction(id: string, flags: OutboxCommandFlags): Promise<number> {
  const { writeLine } = await import('../output.js');
  const outbox = await openOutbox(flags);
  const entry = await outbox.retry(checkId(id));
  if (!entry) {
    writeLine(process.stderr, `resticprom: no dead letter ${id} with an entry in ${outbox.deadDir}`);
    return ExitCode.FAILURE;
  }
  writeLine(process.stdout, `moved ${id} back to ${outbox.dir}; the next push, backup or flush sends it`);
  return ExitCode.OK;
}

async function dropAction(id: string, flags: OutboxCommandFlags): Promise<number> {
  const { writeLine } = await import('../output.js');
  const outbox = await openOutbox(flags);
  const was = await outbox.drop(checkId(id));
  if (!was) {
    writeLine(process.stderr, `resticprom: no entry ${id} in ${outbox.dir}`);
    return ExitCode.FAILURE;
  }
  writeLine(process.stdout, `dropped ${was === 'dead' ? 'dead letter' : 'pending entry'} ${id}`);
  return ExitCode.OK;
}
