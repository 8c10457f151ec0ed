/**
 * The configuration file: schema, loading, defaults and what a run needs from it.
 */

export {
  type CachedLoadedConfig,
  type ConfigCacheUse,
  type LoadConfigCachedOptions,
  loadConfigCached,
} from './cache.js';
export {
  checkCron,
  defaultKeepWithin,
  deriveMaxAgeMs,
  keepPolicyArgs,
  largestGapMs,
  tierMaxAgeMs,
} from './cadence.js';
export {
  configuredDestinations,
  expandTemplate,
  type ProfileDestinations,
  profileDestinations,
  resolveProfile,
} from './destinations.js';
export { type WriteStarterOptions, writeStarterFile } from './init.js';
export {
  DEFAULT_CONFIG_PATHS,
  hasConfigFile,
  type LoadConfigOptions,
  loadConfig,
  parseConfigText,
} from './load.js';
export { DEFAULT_GROUPING, DEFAULT_JOB } from './normalize.js';
export { configJsonSchema } from './schema.js';
export { renderStarterConfig, SCHEMA_FILE_NAME } from './starter.js';
export type {
  CheckConfig,
  Config,
  DaemonConfig,
  LoadedConfig,
  MetricsConfig,
  ProfileConfig,
  PushgatewayConfig,
  RemoteWriteConfig,
  ResticPasswordSource,
  StatsConfig,
  TierConfig,
} from './types.js';
