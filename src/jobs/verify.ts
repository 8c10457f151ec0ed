/**
 * The restore drill (`resticprom verify`): restores a random sample of the files
 * of a tier's latest snapshot into a private temporary folder and checks that each
 * restored as it was backed up.
 *
 * Each sampled file is checked for: an error restic reported for it, its size and
 * modification time against the snapshot's record, its content with restic's own
 * `restore --verify` where this restic has it, and its content against the live
 * source file byte for byte when that file is unchanged since the snapshot (same
 * size and mtime): that proves end to end that what restores is what was backed up.
 * A source file changed (or gone) since the snapshot is not compared, and is no
 * mismatch.
 *
 * The temporary folder (mode 0700, under `$TMPDIR`) is removed whatever happens; the
 * drill refuses to start when the sample would not fit in its free space with a margin.
 * Metrics go to the profile's repository-level group `{tier}` = `verify`.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { profileDestinations } from '../config/index.js';
import { suggest } from '../config/suggest.js';
import { ResticCommandError, UsageError } from '../errors.js';
import type { Sample } from '../metrics/build.js';
import { VERIFY_METRICS } from '../metrics/names.js';
import { listSnapshotFiles, type SnapshotFile } from '../restic/ls.js';
import { type RestoreResult, resticRestoreHasVerify, runRestore } from '../restic/restore.js';
import { listSnapshots, type Snapshot } from '../restic/snapshots.js';
import type { FailureReason } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { getVersion } from '../version.js';
import { type FinishRunResult, finishRun, type HistoryOutcome } from './finish-run.js';
import { resultError } from './hooked-report.js';
import type { MaintenanceOptions } from './maintenance.js';
import { finishRunFields, withRepository } from './repository-run.js';
import { buildInfoSample, runSamples } from './run-metrics.js';

/** Free space the drill leaves beside its sample: 10% of the sample plus this. */
const SPACE_MARGIN_BYTES = 64 * 1024 * 1024;

/** Why a sampled file did not restore as backed up. */
export type MismatchKind = 'restore-error' | 'missing' | 'size' | 'mtime' | 'content';

/** One sampled file that did not restore as backed up. */
export interface VerifyMismatch {
  /** Path inside the snapshot. */
  path: string;
  kind: MismatchKind;
  /** One line for people, e.g. `restored 1200 bytes, the snapshot records 4096`. */
  detail: string;
}

/** What a drill found. */
export interface VerifyReport {
  snapshotId: string;
  /** When the snapshot was taken, Unix ms. */
  snapshotTime: number;
  /** Files in the snapshot. */
  snapshotFiles: number;
  /** Files restored and checked. */
  files: number;
  bytes: number;
  mismatches: VerifyMismatch[];
  /** Files compared byte for byte with their unchanged source. */
  comparedWithSource: number;
  /** Files whose source changed or is gone since the snapshot (not compared, no mismatch). */
  sourceChanged: number;
  /** True when restic checked the restored content itself (`restore --verify`). */
  isResticVerified: boolean;
}

/** What {@link runVerifyJob} returns. */
export interface VerifyJobResult {
  profile: string;
  tier: string;
  /** success: every file restored as backed up; failed: a mismatch, or the drill could not run. */
  outcome: 'success' | 'failed';
  /** Set when the drill could not run or restic failed (interrupted included). */
  reason?: FailureReason | 'no-snapshot' | 'no-space';
  /** One line for people. */
  message: string;
  report?: VerifyReport;
  exitCode: number | null;
  durationMs: number;
  finish: FinishRunResult;
  warnings: string[];
}

/** Options of {@link runVerifyJob}. */
export interface VerifyJobOptions extends MaintenanceOptions {
  /** The tier whose latest snapshot is drilled. @default the profile's `verify.tier`, else its first tier */
  tier?: string;
  /** Files at most. @default the profile's `verify.sample-files` (200) */
  sampleFiles?: number;
  /** Bytes at most. @default the profile's `verify.sample-bytes` (2GiB) */
  sampleBytes?: number;
  /** Where the temporary folder is made. @default os.tmpdir() ($TMPDIR) */
  tempDir?: string;
  /** Random numbers in [0, 1) for the sample. @default Math.random */
  random?: () => number;
}

/**
 * Keeps a uniform random sample of a stream of files (reservoir sampling, so a
 * listing of millions of files is never held), then trims it to the byte budget.
 * Files larger than the whole budget are never picked.
 */
export class FileSampler {
  readonly #pool: SnapshotFile[] = [];
  readonly #poolSize: number;
  #seen = 0;

  /**
   * @param maxFiles files the sample holds at most
   * @param maxBytes bytes the sample holds at most
   * @param random random numbers in [0, 1)
   */
  constructor(
    readonly maxFiles: number,
    readonly maxBytes: number,
    readonly random: () => number = Math.random,
  ) {
    // Spare candidates for files the byte budget drops.
    this.#poolSize = maxFiles * 4;
  }

  /** Offers one file of the listing. */
  add(file: SnapshotFile): void {
    if (file.size > this.maxBytes) return;
    this.#seen++;
    if (this.#pool.length < this.#poolSize) this.#pool.push(file);
    else {
      const j = Math.floor(this.random() * this.#seen);
      if (j < this.#poolSize) this.#pool[j] = file;
    }
  }

  /** The sample: at most `maxFiles` files of at most `maxBytes` in all, in listing-independent order. */
  pick(): SnapshotFile[] {
    const pool = [...this.#pool];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j] as SnapshotFile, pool[i] as SnapshotFile];
    }
    const out: SnapshotFile[] = [];
    let bytes = 0;
    for (const f of pool) {
      if (out.length >= this.maxFiles) break;
      if (bytes + f.size > this.maxBytes) continue;
      out.push(f);
      bytes += f.size;
    }
    return out;
  }
}

/**
 * Where a snapshot file lives on this machine: its path when the snapshot's paths
 * were absolute; for a relative backup path (`restic backup src` records `/src/...`
 * in the tree and `/abs/src` in `paths`), the path under that backup path's parent.
 * Undefined when no backup path explains it.
 */
export function sourcePathOf(snapshotPaths: readonly string[], path: string): string | undefined {
  for (const p of snapshotPaths) if (path === p || path.startsWith(`${p === '/' ? '' : p}/`)) return path;
  const top = path.split('/')[1];
  for (const p of snapshotPaths) if (top !== undefined && basename(p) === top) return join(dirname(p), path);
  return undefined;
}

/** True when two files have the same bytes (read side by side in 64 KiB chunks). */
export async function isSameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  const ra = createReadStream(a, { highWaterMark: 64 * 1024 })[Symbol.asyncIterator]();
  const rb = createReadStream(b, { highWaterMark: 64 * 1024 })[Symbol.asyncIterator]();
  let bufA: Buffer = Buffer.alloc(0);
  let bufB: Buffer = Buffer.alloc(0);
  let isDoneA = false;
  let isDoneB = false;
  try {
    for (;;) {
      if (bufA.length === 0 && !isDoneA) {
        const n = await ra.next();
        if (n.done) isDoneA = true;
        else bufA = n.value as Buffer;
      }
      if (bufB.length === 0 && !isDoneB) {
        const n = await rb.next();
        if (n.done) isDoneB = true;
        else bufB = n.value as Buffer;
      }
      if (bufA.length === 0 || bufB.length === 0) return bufA.length === bufB.length && isDoneA && isDoneB;
      const len = Math.min(bufA.length, bufB.length);
      if (!bufA.subarray(0, len).equals(bufB.subarray(0, len))) return false;
      bufA = bufA.subarray(len);
      bufB = bufB.subarray(len);
    }
  } finally {
    await ra.return?.();
    await rb.return?.();
  }
}

/** Checks each sampled file in the restore folder, against the snapshot's record and the source. */
async function checkRestored(
  target: string,
  sample: readonly SnapshotFile[],
  snapshot: Snapshot,
  restore: RestoreResult,
): Promise<Pick<VerifyReport, 'mismatches' | 'comparedWithSource' | 'sourceChanged' | 'files' | 'bytes'>> {
  const errors = new Map(restore.fileErrors.map((e) => [e.path, e.message]));
  const mismatches: VerifyMismatch[] = [];
  let comparedWithSource = 0;
  let sourceChanged = 0;
  let bytes = 0;
  for (const f of sample) {
    bytes += f.size;
    const err = errors.get(f.path);
    if (err !== undefined) {
      mismatches.push({ path: f.path, kind: 'restore-error', detail: `restic: ${err}` });
      continue;
    }
    const restored = join(target, f.path);
    const st = await lstat(restored, { bigint: true }).catch(() => undefined);
    if (!st?.isFile()) {
      mismatches.push({ path: f.path, kind: 'missing', detail: 'not restored' });
      continue;
    }
    if (st.size !== BigInt(f.size)) {
      mismatches.push({
        path: f.path,
        kind: 'size',
        detail: `restored ${st.size} bytes, the snapshot records ${f.size}`,
      });
      continue;
    }
    if (st.mtimeNs !== f.mtimeNs) {
      mismatches.push({ path: f.path, kind: 'mtime', detail: 'restored with another modification time' });
      continue;
    }
    const source = sourcePathOf(snapshot.paths, f.path);
    const src = source ? await lstat(source, { bigint: true }).catch(() => undefined) : undefined;
    if (!source || !src?.isFile() || src.size !== BigInt(f.size) || src.mtimeNs !== f.mtimeNs) {
      sourceChanged++;
      continue;
    }
    comparedWithSource++;
    if (!(await isSameContent(restored, source))) {
      mismatches.push({
        path: f.path,
        kind: 'content',
        detail: 'restored content differs from the unchanged source file',
      });
    }
  }
  return { mismatches, comparedWithSource, sourceChanged, files: sample.length, bytes };
}

/** The drilled tier: the option, the profile's `verify.tier`, else its first tier. */
function pickTier(tiers: readonly string[], wanted: string | undefined, profile: string): string {
  const tier = wanted ?? tiers[0];
  if (tier === undefined || !tiers.includes(tier)) {
    const hint = tier === undefined ? undefined : suggest(tier, tiers);
    throw new UsageError(
      `profile "${profile}" has no tier "${tier}"${hint ? `; did you mean "${hint}"?` : ''} (tiers: ${tiers.join(', ')})`,
    );
  }
  return tier;
}

/**
 * Runs a restore drill on a tier's latest snapshot and delivers its metrics.
 * Never throws for restic's failures or mismatches (they are the result); throws
 * UsageError for an unknown profile or tier, StateError when the state is unusable.
 */
export async function runVerifyJob(opts: VerifyJobOptions): Promise<VerifyJobResult> {
  return withRepository(
    opts,
    'verify {profile}',
    async (p) => {
      const startedAt = Date.now();
      const t0 = performance.now();
      const v = p.profile.verify;
      const tier = pickTier(Object.keys(p.profile.tiers), opts.tier ?? v?.tier, p.profileName);
      const maxFiles = opts.sampleFiles ?? v?.sampleFiles ?? 200;
      const maxBytes = opts.sampleBytes ?? v?.sampleBytes ?? 2 * 1024 ** 3;
      let reason: VerifyJobResult['reason'];
      let message = '';
      let exitCode: number | null = 0;
      let report: VerifyReport | undefined;
      try {
        const snapshots = await listSnapshots({ ...p.restic, tags: [tier] });
        const snapshot = snapshots.at(-1);
        if (!snapshot) {
          reason = 'no-snapshot';
          message = `no snapshot of tier ${tier} to restore`;
        } else {
          const sampler = new FileSampler(maxFiles, maxBytes, opts.random);
          const listed = await listSnapshotFiles({
            ...p.restic,
            snapshot: snapshot.id,
            onFile: (f) => sampler.add(f),
          });
          const sample = sampler.pick();
          const need = sample.reduce((n, f) => n + f.size, 0);
          const base = opts.tempDir ?? tmpdir();
          const fs = await statfs(base);
          const free = fs.bavail * fs.bsize;
          if (need * 1.1 + SPACE_MARGIN_BYTES > free) {
            reason = 'no-space';
            message = `the sample of ${formatBytes(need)} does not fit in ${base} (${formatBytes(free)} free, ${formatBytes(SPACE_MARGIN_BYTES)} kept free); lower verify.sample-bytes or set TMPDIR`;
          } else {
            const hasVerify = await resticRestoreHasVerify(p.restic);
            const target = await mkdtemp(join(base, 'resticprom-verify-'));
            try {
              const restore = await runRestore({
                ...p.restic,
                snapshot: snapshot.id,
                target,
                paths: sample.map((f) => f.path),
                verify: hasVerify,
              });
              exitCode = restore.exitCode;
              const cls = restore.classification;
              if (
                cls.reason === 'interrupted' ||
                (cls.outcome === 'failed' && restore.fileErrors.length === 0)
              ) {
                reason = cls.reason ?? 'other';
                message = cls.message;
              } else {
                const checked = await checkRestored(target, sample, snapshot, restore);
                report = {
                  snapshotId: snapshot.id,
                  snapshotTime: snapshot.time,
                  snapshotFiles: listed.files,
                  isResticVerified: hasVerify,
                  ...checked,
                };
              }
            } finally {
              await rm(target, { recursive: true, force: true });
            }
          }
        }
      } catch (e) {
        if (!(e instanceof ResticCommandError)) throw e;
        reason = e.reason as FailureReason;
        message = e.message;
        exitCode = e.exitCode ?? null;
      }
      const durationMs = performance.now() - t0;
      const endedAt = startedAt + Math.round(durationMs);
      const mismatches = report?.mismatches ?? [];
      const outcome = report && mismatches.length === 0 ? 'success' : 'failed';
      if (report) {
        message =
          mismatches.length === 0
            ? `${report.files} file(s), ${formatBytes(report.bytes)} restored as backed up (${report.comparedWithSource} compared with the source)`
            : `${mismatches.length} of ${report.files} file(s) did not restore as backed up: ${mismatches
                .slice(0, 3)
                .map((m) => `${m.path} (${m.detail})`)
                .join('; ')}${mismatches.length > 3 ? '; ...' : ''}`;
      }
      const historyOutcome: HistoryOutcome =
        reason === 'interrupted' ? 'interrupted' : outcome === 'success' ? 'success' : 'failed';
      const target = profileDestinations(p.config, p.profileName, 'verify', { isRepositoryLevel: true });
      const resticVersion = await p.resticVersion;
      const finish = await finishRun({
        ...finishRunFields(p, opts.sendOptions),
        kind: 'verify',
        startedAt,
        endedAt,
        outcome: historyOutcome,
        exitCode,
        ...(reason ? { reason } : {}),
        ...(outcome === 'failed' ? { error: resultError({ outcome, message }) ?? message } : {}),
        summary: {
          tier,
          message,
          ...(report
            ? {
                snapshotId: report.snapshotId,
                snapshotTime: report.snapshotTime,
                files: report.files,
                bytes: report.bytes,
                mismatches: report.mismatches.length,
                mismatchedFiles: report.mismatches.slice(0, 20),
                comparedWithSource: report.comparedWithSource,
              }
            : {}),
        },
        target,
        samples: (counters) => {
          const s: Sample[] = runSamples(VERIFY_METRICS, {
            status: outcome === 'success' ? 'success' : 'failed',
            exitCode: exitCode ?? -1,
            durationMs,
            endedAt,
            counters,
          });
          if (report) {
            s.push(
              { def: VERIFY_METRICS.files, value: report.files },
              { def: VERIFY_METRICS.bytes, value: report.bytes },
              { def: VERIFY_METRICS.mismatches, value: report.mismatches.length },
              { def: VERIFY_METRICS.comparedWithSourceFiles, value: report.comparedWithSource },
              {
                def: VERIFY_METRICS.snapshotAgeSeconds,
                value: Math.max(0, (startedAt - report.snapshotTime) / 1000),
              },
            );
          }
          s.push(buildInfoSample(getVersion(), resticVersion));
          return s;
        },
      });
      return {
        profile: p.profileName,
        tier,
        outcome,
        ...(reason ? { reason } : {}),
        message,
        ...(report ? { report } : {}),
        exitCode,
        durationMs,
        finish,
        warnings: [...p.warnings, ...finish.warnings],
      };
    },
    (config, profileName) => {
      const p = config.profiles[profileName];
      if (p) pickTier(Object.keys(p.tiers), opts.tier ?? p.verify?.tier, profileName);
    },
  );
}
