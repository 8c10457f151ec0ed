/**
 * Destination flags shared by `push`, `flush` and later commands: declares them on a
 * command and turns their values (plus the RESTICPROM_* environment) into
 * {@link Destination}s. Secrets are only ever referenced (a file path or an
 * environment variable name), never taken from argv.
 */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { findUrlCredentials, maskUrl, UsageError } from '../errors.js';
import { isSecretHeader } from '../sinks/outbox/secrets.js';
import type { Destination, HttpOptions, SecretSource } from '../sinks/types.js';
import { SECRET_ENV } from '../util/child-env.js';
import { parseDuration, timerDurationProblem } from '../util/duration.js';

/** Values of the destination flags, as commander hands them over. */
export interface DestinationFlags {
  gateway?: string[];
  require?: string;
  remoteWrite?: string[];
  otlp?: string[];
  textfile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecureSkipVerify?: boolean;
  basicAuthUser?: string;
  basicAuthPasswordFile?: string;
  bearerTokenFile?: string;
  header?: string[];
  timeout?: string;
  retries?: string;
  gzip?: boolean;
}

/** Environment variables read for destinations. */
export const DESTINATION_ENV = {
  gateway: 'RESTICPROM_GATEWAY',
  basicAuthUser: 'RESTICPROM_BASIC_AUTH_USER',
  basicAuthPassword: SECRET_ENV.basicAuthPassword,
  bearerToken: SECRET_ENV.bearerToken,
} as const;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Declares the destination, TLS, auth and HTTP flags on `cmd`. */
export function addDestinationOptions(cmd: Command): Command {
  return cmd
    .option(
      '--gateway <url>',
      `Pushgateway URL; repeat for an HA pair (default $${DESTINATION_ENV.gateway})`,
      collect,
    )
    .addOption(
      new Option('--require <mode>', 'with several gateways: delivered when all or any have it')
        .choices(['all', 'any'])
        .default('all'),
    )
    .option('--remote-write <url>', 'Prometheus remote write URL (repeatable)', collect)
    .option(
      '--otlp <url>',
      'OTLP/HTTP metrics endpoint URL, e.g. http://collector:4318/v1/metrics (repeatable)',
      collect,
    )
    .option('--textfile <path>', 'node_exporter textfile collector file (*.prom), written atomically')
    .option('--ca-file <path>', 'PEM CA bundle to trust for https')
    .option('--cert-file <path>', 'client certificate (mTLS)')
    .option('--key-file <path>', 'client key (mTLS)')
    .option('--insecure-skip-verify', 'do not verify the server certificate')
    .option('--basic-auth-user <name>', `basic auth user (default $${DESTINATION_ENV.basicAuthUser})`)
    .option(
      '--basic-auth-password-file <path>',
      `file holding the basic auth password (default: $${DESTINATION_ENV.basicAuthPassword})`,
    )
    .option(
      '--bearer-token-file <path>',
      `file holding a bearer token (default: $${DESTINATION_ENV.bearerToken})`,
    )
    .option('--header <name=value>', 'extra request header (repeatable)', collect)
    .option('--timeout <duration>', 'per-attempt timeout, e.g. 500ms, 10s, 2m', '10s')
    .option('--retries <n>', 'attempts after the first', '3')
    .option('--gzip', 'gzip the request body');
}

/**
 * Turns flags and environment into destinations: one Pushgateway destination for every
 * `--gateway` (or `$RESTICPROM_GATEWAY` when no destination flag is given at all), one per
 * `--remote-write`, one per `--otlp`, one for `--textfile`. Returns `[]` when nothing is given.
 * @throws {UsageError} for a bad value: a URL with credentials, an unreadable setting, both
 *   basic auth and a bearer token, a half-given basic auth.
 */
export function parseDestinations(
  flags: DestinationFlags,
  env: NodeJS.ProcessEnv = process.env,
): Destination[] {
  const out: Destination[] = [];
  const hasFlag = Boolean(
    flags.gateway?.length || flags.remoteWrite?.length || flags.otlp?.length || flags.textfile,
  );
  const gateways = flags.gateway?.length
    ? flags.gateway
    : !hasFlag && env[DESTINATION_ENV.gateway]
      ? [env[DESTINATION_ENV.gateway] as string]
      : [];
  const needsHttp = gateways.length > 0 || Boolean(flags.remoteWrite?.length || flags.otlp?.length);
  const http = needsHttp ? parseHttpOptions(flags, env) : {};
  if (gateways.length > 0) {
    const urls = gateways.map((u) => checkUrl(u, '--gateway'));
    const require = flags.require === 'any' ? 'any' : 'all';
    out.push({ kind: 'pushgateway', urls, require, ...http });
  }
  for (const u of flags.remoteWrite ?? [])
    out.push({ kind: 'remote-write', url: checkUrl(u, '--remote-write'), ...http });
  for (const u of flags.otlp ?? []) out.push({ kind: 'otlp', url: checkUrl(u, '--otlp'), ...http });
  if (flags.textfile) {
    if (!flags.textfile.endsWith('.prom')) {
      throw new UsageError(
        `--textfile ${flags.textfile}: the file name must end in .prom (node_exporter reads only those)`,
      );
    }
    out.push({ kind: 'textfile', path: resolve(flags.textfile) });
  }
  return out;
}

/**
 * Reads the TLS, auth and HTTP flags (and RESTICPROM_BASIC_AUTH_*, RESTICPROM_BEARER_TOKEN)
 * into {@link HttpOptions}; file paths become absolute so a later `flush` finds them.
 * @throws {UsageError} for a bad value.
 */
export function parseHttpOptions(flags: DestinationFlags, env: NodeJS.ProcessEnv = process.env): HttpOptions {
  const http: HttpOptions = {};
  if (flags.caFile) http.caFile = resolve(flags.caFile);
  if (flags.certFile) http.certFile = resolve(flags.certFile);
  if (flags.keyFile) http.keyFile = resolve(flags.keyFile);
  if (Boolean(flags.certFile) !== Boolean(flags.keyFile)) {
    throw new UsageError('--cert-file and --key-file go together');
  }
  if (flags.insecureSkipVerify) http.insecureSkipVerify = true;
  if (flags.gzip) http.gzip = true;
  if (flags.timeout !== undefined) {
    try {
      http.timeoutMs = parseDuration(flags.timeout);
    } catch (err) {
      throw new UsageError(`--timeout: ${(err as Error).message}`, { cause: err });
    }
    if (http.timeoutMs <= 0) throw new UsageError('--timeout must be more than 0');
    const tooLong = timerDurationProblem(http.timeoutMs);
    if (tooLong) throw new UsageError(`--timeout ${flags.timeout} ${tooLong}`);
  }
  if (flags.retries !== undefined) {
    if (!/^\d+$/.test(flags.retries)) {
      throw new UsageError(`--retries ${flags.retries}: expected a whole number (attempts after the first)`);
    }
    http.retries = Number(flags.retries);
  }
  if (flags.header?.length) {
    http.headers = parsePairs(flags.header, '--header', /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
    // Like credentials in a URL: argv shows in process lists.
    const secret = Object.keys(http.headers).find((name) => isSecretHeader(name));
    if (secret !== undefined) {
      throw new UsageError(
        `--header ${secret}: a credential header on the command line is refused (it would show in process lists); use --bearer-token-file, --basic-auth-password-file or $${DESTINATION_ENV.bearerToken}`,
      );
    }
  }

  const user = flags.basicAuthUser ?? env[DESTINATION_ENV.basicAuthUser];
  const password: SecretSource | undefined = flags.basicAuthPasswordFile
    ? { file: resolve(flags.basicAuthPasswordFile) }
    : env[DESTINATION_ENV.basicAuthPassword] !== undefined
      ? { env: DESTINATION_ENV.basicAuthPassword }
      : undefined;
  const token: SecretSource | undefined = flags.bearerTokenFile
    ? { file: resolve(flags.bearerTokenFile) }
    : env[DESTINATION_ENV.bearerToken] !== undefined && !flags.basicAuthUser
      ? { env: DESTINATION_ENV.bearerToken }
      : undefined;
  if (user !== undefined && password === undefined) {
    throw new UsageError(
      `basic auth user given but no password: use --basic-auth-password-file or $${DESTINATION_ENV.basicAuthPassword}`,
    );
  }
  if (user === undefined && flags.basicAuthPasswordFile) {
    throw new UsageError(
      `--basic-auth-password-file needs --basic-auth-user (or $${DESTINATION_ENV.basicAuthUser})`,
    );
  }
  if (user !== undefined && password !== undefined) {
    if (flags.bearerTokenFile) throw new UsageError('use either basic auth or --bearer-token-file, not both');
    http.basicAuth = { username: user, password };
  } else if (token) {
    http.bearerToken = token;
  }
  return http;
}

/**
 * Parses repeated `name=value` flags into a record.
 * @throws {UsageError} naming the flag and the bad item.
 */
export function parsePairs(
  items: string[],
  flag: string,
  namePattern: RegExp = /^[a-zA-Z_][a-zA-Z0-9_]*$/,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !namePattern.test(name)) {
      throw new UsageError(`${flag} ${flag === '--header' ? name : item}: expected name=value`);
    }
    if (name in out) throw new UsageError(`${flag} ${name} given twice`);
    out[name] = item.slice(eq + 1);
  }
  return out;
}

/**
 * Checks a destination URL: http(s), no credentials in it (they would sit in argv and
 * in process listings).
 * @throws {UsageError} otherwise.
 */
export function checkUrl(url: string, flag: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${flag} ${maskUrl(url)}: not a valid URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`${flag} ${maskUrl(url)}: use an http:// or https:// URL`);
  }
  const creds = findUrlCredentials(url);
  if (creds !== undefined) {
    throw new UsageError(
      `${flag} ${maskUrl(url)}: credentials in the URL (${creds}) are refused (they would show in process lists); use --basic-auth-user with --basic-auth-password-file or $${DESTINATION_ENV.basicAuthPassword}, or --bearer-token-file`,
    );
  }
  return url;
}
