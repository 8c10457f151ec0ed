/**
 * The outbox's files: entries in `<stateDir>/outbox/`, dead letters and quarantined files in
 * `outbox/dead/`. It reads entries without following symbolic links or opening FIFOs, and
 * moves anything in the folder that is not a regular, well-formed entry aside, so one stray
 * file never blocks delivery.
 */

import { join } from 'node:path';
import { describeFileType, readStateFile, tempFileOwner, writeFileAtomic } from '../../state/dir.js';
import { lstat, mkdir, readdir, rename, rm, stat } from '../../state/io.js';
import {
  ENTRY_FILE,
  newEntryId,
  OUTBOX_FORMAT,
  type OutboxEntry,
  parseEntry,
  serializeEntry,
} from './entry.js';

/** A payload that will not be sent again, kept in `dead/` for inspection. */
export interface DeadLetter {
  id: string;
  /** The dead letter's JSON file. */
  file: string;
  reason: string;
  status?: number;
  body?: string;
  /** Unix ms. */
  deadAt: number;
  /** The entry; absent for a corrupt or stray file (its bytes, or the file itself, are in `rawFile`). */
  entry?: OutboxEntry;
  rawFile?: string;
}

/** A file of the outbox that was not a usable entry and was moved to dead/. */
export interface CorruptFile {
  /** Where it was. */
  file: string;
  /** Why it was moved, e.g. `corrupt: checksum mismatch`, `not a regular file: a FIFO`. */
  reason: string;
}

/** What {@link OutboxStore.readAll} found. */
export interface ReadEntries {
  entries: OutboxEntry[];
  /** Files moved to dead/ (only when asked to move them). */
  corrupt: CorruptFile[];
}

/** Names in `outbox/` that belong to the outbox itself. */
function isOwnName(name: string): boolean {
  return name === 'dead' || name === '.lock' || (name.startsWith('.') && tempFileOwner(name) !== undefined);
}

/** The files of one outbox folder. */
export class OutboxStore {
  /** `<stateDir>/outbox`. */
  readonly dir: string;
  /** `<stateDir>/outbox/dead`. */
  readonly deadDir: string;
  private readonly now: () => number;
  private isPrepared = false;

  constructor(dir: string, now: () => number) {
    this.dir = dir;
    this.deadDir = join(dir, 'dead');
    this.now = now;
  }

  /** Creates the folders (0700) once. */
  async prepare(): Promise<void> {
    if (this.isPrepared) return;
    await mkdir(this.deadDir, { recursive: true, mode: 0o700 });
    this.isPrepared = true;
  }

  /** The file of an entry id. */
  fileOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** Entry-named regular files, sorted (oldest first); a cheap count that opens nothing. */
  async entryNames(): Promise<string[]> {
    await this.prepare();
    const out: string[] = [];
    for (const name of (await readdir(this.dir)).filter((n) => ENTRY_FILE.test(n)).sort()) {
      const st = await lstat(join(this.dir, name)).catch(() => undefined);
      if (st?.isFile()) out.push(name);
    }
    return out;
  }

  /** The newest enqueue time among stored entry names (0 when none). */
  async newestTime(): Promise<number> {
    let ts = 0;
    for (const name of await this.entryNames()) ts = Math.max(ts, Number(name.slice(0, 13)));
    return ts;
  }

  /** Writes an entry atomically (0600). */
  async write(entry: OutboxEntry): Promise<void> {
    await writeFileAtomic(this.fileOf(entry.id), serializeEntry(entry));
  }

  /** Removes an entry's file (gone already is fine). */
  async remove(id: string): Promise<void> {
    await rm(this.fileOf(id), { force: true });
  }

  /** The size of an entry's file in bytes (0 when gone). */
  async sizeOf(id: string): Promise<number> {
    return stat(this.fileOf(id)).then(
      (s) => s.size,
      () => 0,
    );
  }

  /**
   * Reads every entry, oldest first. With `quarantine`, anything else in the folder (a file
   * that does not parse, a folder, a FIFO, a symbolic link, a file of another user, a name
   * that is not an entry's) is moved to dead/ and listed in `corrupt`; without, it is skipped.
   */
  async readAll(quarantine: boolean): Promise<ReadEntries> {
    await this.prepare();
    const entries: OutboxEntry[] = [];
    const corrupt: CorruptFile[] = [];
    for (const name of (await readdir(this.dir)).sort()) {
      if (isOwnName(name)) continue;
      const file = join(this.dir, name);
      const m = ENTRY_FILE.exec(name);
      let why: string;
      let id: string;
      if (m) {
        id = m[1] as string;
        const raw = await readStateFile(file);
        if (raw === undefined) continue; // removed meanwhile
        if (Buffer.isBuffer(raw)) {
          const parsed = parseEntry(raw, id);
          if (typeof parsed !== 'string') {
            entries.push(parsed);
            continue;
          }
          why = `corrupt: ${parsed}`;
        } else why = `not a regular file of ours: ${raw.refused}`;
      } else {
        id = newEntryId(this.now());
        const st = await lstat(file).catch(() => undefined);
        if (!st) continue;
        why = `not an outbox entry (${describeFileType(st)} named ${JSON.stringify(name)})`;
      }
      if (!quarantine) continue;
      await this.quarantine(file, id, why);
      corrupt.push({ file, reason: why });
    }
    return { entries, corrupt };
  }

  /**
   * Moves a file (whatever it is: the rename moves a link, a FIFO or a folder without
   * opening it) to `dead/<id>.corrupt` and writes `dead/<id>.json` saying why.
   */
  private async quarantine(file: string, id: string, reason: string): Promise<void> {
    const rawFile = join(this.deadDir, `${id}.corrupt`);
    await rename(file, rawFile);
    const dead = { reason, deadAt: this.now(), rawFile, originalFile: file };
    await writeFileAtomic(
      join(this.deadDir, `${id}.json`),
      `${JSON.stringify({ format: OUTBOX_FORMAT, dead }, null, 1)}\n`,
    );
  }

  /** Writes `entry` to dead/ with why it will not be sent. */
  async moveToDead(
    entry: OutboxEntry,
    why: { reason: string; status?: number; body?: string },
  ): Promise<DeadLetter> {
    const file = join(this.deadDir, `${entry.id}.json`);
    const dead = { ...why, deadAt: this.now() };
    await writeFileAtomic(file, `${JSON.stringify({ format: OUTBOX_FORMAT, dead, entry }, null, 1)}\n`);
    return { id: entry.id, file, ...dead, entry };
  }

  /** Lists dead letters, oldest first. */
  async deadLetters(): Promise<DeadLetter[]> {
    await this.prepare();
    const names = (await readdir(this.deadDir)).filter((n) => ENTRY_FILE.test(n)).sort();
    const out: DeadLetter[] = [];
    for (const name of names) {
      const file = join(this.deadDir, name);
      const id = name.slice(0, -5);
      try {
        const raw = await readStateFile(file);
        if (!Buffer.isBuffer(raw)) throw new Error('unreadable');
        const doc = JSON.parse(raw.toString('utf8')) as {
          entry?: OutboxEntry;
          dead: Omit<DeadLetter, 'id' | 'file' | 'entry'>;
        };
        out.push({ id, file, ...doc.dead, ...(doc.entry ? { entry: doc.entry } : {}) });
      } catch {
        out.push({ id, file, reason: 'unreadable dead letter', deadAt: 0 });
      }
    }
    return out;
  }

  /** Moves a dead letter's entry back into the outbox (a new attempt count); false when it has none. */
  async revive(id: string): Promise<OutboxEntry | undefined> {
    const letter = (await this.deadLetters()).find((d) => d.id === id);
    if (!letter?.entry) return undefined;
    const { firstError: _f, lastError: _l, lastAttemptAt: _a, ...rest } = letter.entry;
    const entry: OutboxEntry = { ...rest, attempts: 0 };
    await this.write(entry);
    await rm(letter.file, { force: true });
    return entry;
  }

  /** Removes a dead letter (and a quarantined file beside it); false when there is none. */
  async removeDead(id: string): Promise<boolean> {
    const letter = (await this.deadLetters()).find((d) => d.id === id);
    if (!letter) return false;
    // The stored path is not trusted: a quarantined file always sits beside its letter.
    await rm(join(this.deadDir, `${id}.corrupt`), { recursive: true, force: true });
    await rm(letter.file, { force: true });
    return true;
  }
}
