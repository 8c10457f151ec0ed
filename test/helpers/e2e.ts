/**
 * Helpers for the end-to-end tests: the run history as written, processes under
 * /proc (restic's argv, a CLI's restic child), waiting, files under a folder, and
 * one group's values on the real Pushgateway.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../../src/state/history.js';
import { type GatewayGroup, gatewayGroups, groupValues } from './services.js';

/** Every run record of `<stateDir>/history.jsonl`, oldest first (the `base` line skipped). */
export function readHistory(stateDir: string): RunRecord[] {
  let text: string;
  try {
    text = readFileSync(join(stateDir, 'history.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunRecord & { type?: string })
    .filter((r) => r.type !== 'base');
}

/** Polls `fn` until it returns a value other than `undefined`/`false`, or throws naming `what`. */
export async function waitUntil<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  pollMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Pids of the live processes whose parent is `ppid` and whose name (`comm`) is `comm`. */
export function childProcesses(ppid: number, comm: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    if (stat.slice(open + 1, close) === comm && Number(rest[1]) === ppid && rest[0] !== 'Z') {
      found.push(Number(name));
    }
  }
  return found;
}

/** The argv of a running process, from `/proc/<pid>/cmdline`; `undefined` once it ended. */
export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  } catch {
    return undefined;
  }
}

/** True while a process with this pid exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Every regular file under `dir`, recursively (absolute paths). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesUnder(p));
    else if (st?.isFile()) out.push(p);
  }
  return out;
}

/** The gateway group whose labels are exactly `labels` (job included); throws when absent. */
export async function gatewayGroup(baseUrl: string, labels: Record<string, string>): Promise<GatewayGroup> {
  const groups = await gatewayGroups(baseUrl);
  const want = JSON.stringify(Object.entries(labels).sort());
  const group = groups.find((g) => JSON.stringify(Object.entries(g.labels).sort()) === want);
  if (!group) {
    throw new Error(`no gateway group ${want}; groups: ${JSON.stringify(groups.map((g) => g.labels))}`);
  }
  return group;
}

/**
 * The one value of `family` in `group` as a number (the gateway's JSON gives strings);
 * `undefined` when the family is absent. Throws when it has several series.
 */
export function groupValue(group: GatewayGroup, family: string): number | undefined {
  const values = groupValues(group, family);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new Error(`${family} has ${values.length} series in the group`);
  return Number(values[0]?.value);
}
