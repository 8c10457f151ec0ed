/**
 * resticprom's public library API. Everything here is documented with TSDoc at
 * its definition; internal helpers are not re-exported.
 *
 * @example
 * import { Registry, Gauge } from 'prom-client';
 * import { addToGateway } from 'resticprom';
 * const registry = new Registry();
 * new Gauge({ name: 'db_dump_size_bytes', help: 'Size of the dump', registers: [registry] }).set(123);
 * await addToGateway({ url: 'https://my-gtw:443', job: 'db_dump', grouping: { instance: 'nightly' }, registry });
 */

// Configuration and jobs.
export {
  type CachedLoadedConfig,
  type Config,
  type LoadedConfig,
  loadConfig,
  loadConfigCached,
  type ProfileConfig,
  profileDestinations,
  type TierConfig,
  tierMaxAgeMs,
} from './config/index.js';
export { generateRules } from './deploy/rules.js';
export {
  ConfigError,
  type ConfigProblem,
  InvalidMetricsError,
  LockBusyError,
  ResticCommandError,
  ResticError,
  ResticpromError,
  SinkError,
  StateError,
  UsageError,
} from './errors.js';
export { type BackupJobOptions, type BackupJobResult, runBackupJob } from './jobs/backup.js';
export { runBatchJob } from './jobs/batch-job.js';
export { runCheckJob, runForgetJob, runStatsJob } from './jobs/maintenance.js';
// Metrics: exposition text and the metric table.
export {
  formatExposition,
  type ParsedFamily,
  type ParsedSample,
  parseExposition,
  type ValidateOptions,
  validateExposition,
} from './metrics/exposition.js';
export * as metricNames from './metrics/names.js';
export { registryToText } from './metrics/registry.js';
// restic.
export { type RunBackupOptions, runBackup } from './restic/backup.js';
export { runCheck } from './restic/check.js';
export { runForget } from './restic/forget.js';
export { createBackupParser } from './restic/parse-backup.js';
export { listSnapshots } from './restic/snapshots.js';
export { runStats } from './restic/stats.js';
export type {
  BackupItemError,
  BackupProgress,
  BackupResult,
  BackupSummary,
  FailureReason,
  RunOutcome,
} from './restic/types.js';
export { getResticVersion } from './restic/version.js';
// Delivery: Pushgateway, remote write, OTLP, textfile, and the durable outbox.
export { type DeliverOptions, type DeliverResult, deliver, flushPending } from './sinks/deliver.js';
export { encodeGroupingPath } from './sinks/grouping-key.js';
export { sendOtlp } from './sinks/otlp.js';
export { buildResourceMetrics, serializeResourceMetrics } from './sinks/otlp-encode.js';
export {
  type FlushReport,
  type HeldOutbox,
  Outbox,
  type OutboxEntry,
  type RequeueRoute,
  type RequeueSource,
} from './sinks/outbox.js';
export { addToGateway, deleteFromGateway, type GatewayOptions, pushToGateway } from './sinks/pushgateway.js';
export { buildWriteRequest, sendRemoteWrite } from './sinks/remote-write.js';
export {
  describeTarget,
  expandTargets,
  type SendOptions,
  sendToTarget,
  type Target,
} from './sinks/target.js';
export { writeTextfile } from './sinks/textfile.js';
export type {
  AuthOptions,
  DeliveryReport,
  Destination,
  HttpOptions,
  MetricsPayload,
  OtlpDestination,
  PushgatewayDestination,
  PushMethod,
  RemoteWriteDestination,
  SecretSource,
  TextfileDestination,
  TlsOptions,
} from './sinks/types.js';
