/**
 * HTTP for the sinks: TLS (CA file, mTLS, skip-verify), authentication from
 * secret sources, per-attempt timeouts, and retries with exponential backoff and
 * full jitter. Errors are {@link SinkError}s with one clear line, URLs masked,
 * secrets never quoted.
 *
 * Requests go through Node's own `http`/`https` modules: they take the TLS settings
 * directly, start in a few milliseconds (Node's `fetch` costs ~90 ms on its first
 * call, measured in bench/overhead.ts), and keep no connection open after the answer.
 * A `fetch` passed in `SendOptions` is used instead (tests, custom transports).
 */

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { errorText, maskUrl, SinkError } from '../errors.js';
import type { Destination, HttpOptions, SecretSource, SendOptions } from './types.js';

declare const RESTICPROM_VERSION: string | undefined;

/** First retry waits up to this long (full jitter), ms. */
export const BACKOFF_BASE_MS = 500;
/** No retry waits longer than this, ms; a longer `Retry-After` ends the retries. */
export const BACKOFF_CAP_MS = 30_000;
/** @default timeoutMs */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** @default retries */
export const DEFAULT_RETRIES = 3;
/** How much of a server's answer is kept on a SinkError. */
const MAX_BODY_CHARS = 2000;

let cachedVersion: string | undefined;

/** resticprom's version: the bundled constant, else the package.json next to the sources. */
function packageVersion(): string {
  if (typeof RESTICPROM_VERSION === 'string') return RESTICPROM_VERSION;
  if (cachedVersion) return cachedVersion;
  cachedVersion = '0.0.0-dev';
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === 'resticprom' && pkg.version) {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // not here; look one folder up
      }
      dir = dirname(dir);
    }
  } catch {
    // keep the dev version
  }
  return cachedVersion;
}

/** The `User-Agent` resticprom sends: `resticprom/<version>`. */
export function userAgent(): string {
  return `resticprom/${packageVersion()}`;
}

/**
 * Reads a secret: a file's content without its trailing newline(s), an
 * environment variable, or a literal value.
 *
 * @param what names the secret in error messages, e.g. `basic auth password`
 * @throws SinkError (isRetryable true: the payload is fine, the setup is not) when
 *   the file cannot be read or the variable is not set; the message names the
 *   file or variable, never the secret
 */
export async function resolveSecret(
  source: SecretSource,
  opts: { env?: NodeJS.ProcessEnv; what?: string; url?: string } = {},
): Promise<string> {
  const what = opts.what ?? 'secret';
  const url = opts.url ?? '';
  if ('value' in source) return source.value;
  if ('env' in source) {
    const v = (opts.env ?? process.env)[source.env];
    if (v === undefined) {
      throw new SinkError(`${what}: environment variable ${source.env} is not set`, {
        url,
        isRetryable: true,
        kind: 'secret',
      });
    }
    return v;
  }
  try {
    return (await readFile(source.file, 'utf8')).replace(/(\r?\n)+$/, '');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SinkError(
      `${what}: cannot read ${source.file} (${reason})`,
      { url, isRetryable: true, kind: 'secret' },
      { cause: err },
    );
  }
}

/** One HTTP request a sink makes, retried by {@link sendHttp}. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Full URL; user info in it (`https://user:pass@host`) becomes basic auth. */
  url: string;
  body?: Uint8Array;
  /** Request headers of the protocol (Content-Type, ...). */
  headers?: Record<string, string>;
  /** Words for messages, e.g. `pushing to` in `unexpected status 400 while pushing to URL`. */
  action: string;
}

/** What the server answered. */
export interface HttpResponse {
  status: number;
  /** The body as UTF-8 text. */
  body: string;
  /** The body as sent (a binary answer, e.g. an OTLP protobuf response). */
  bytes: Uint8Array;
}

type FetchLike = typeof fetch;

/** The response headers the sinks read; a fetch Response's `Headers` is one. */
interface ResponseHeaders {
  get(name: string): string | null;
}

/** What a transport answers: enough of a fetch Response for the sinks. */
interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Longest answer body read, bytes; the rest is dropped (messages keep 2,000 characters). */
const MAX_READ_BYTES = 1024 * 1024;

const clientModules = new Map<string, Promise<typeof import('node:http') | typeof import('node:https')>>();

/** `node:https` or `node:http`, loaded on first use (a command that sends nothing never loads them). */
function clientModule(protocol: string): Promise<typeof import('node:http') | typeof import('node:https')> {
  let mod = clientModules.get(protocol);
  if (!mod) {
    mod = protocol === 'https:' ? import('node:https') : import('node:http');
    clientModules.set(protocol, mod);
  }
  return mod;
}

/**
 * Readies the HTTP client `url` needs, ahead of its first request: a job calls it while
 * restic runs, so that this is not part of the time after restic ends. It loads the module
 * (~4 ms) and sends one request through an in-memory socket that answers it: node compiles
 * the functions of its HTTP client when they first run, and the first real request of a
 * process cost ~7 ms more than the next one (BENCHMARKS.md, third round). Nothing reaches
 * the network.
 */
export function preloadHttpClient(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return; // not a URL: the request reports it
  }
  clientModule(protocol)
    .then((mod) => rehearseRequest(mod, protocol))
    .catch(() => {});
}

let isRehearsed = false;

/** One POST through a socket of our own that answers 204 (see {@link preloadHttpClient}). */
async function rehearseRequest(
  mod: typeof import('node:http') | typeof import('node:https'),
  protocol: string,
): Promise<void> {
  if (isRehearsed) return;
  isRehearsed = true;
  const { Duplex } = await import('node:stream');
  let isAnswered = false;
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, done) {
      done();
      if (isAnswered) return;
      isAnswered = true;
      this.push('HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n');
    },
  });
  await new Promise<void>((resolve) => {
    const req = mod.request(
      `${protocol}//rehearsal.invalid/`,
      { method: 'POST', createConnection: () => socket as never, headers: { 'content-length': '1' } },
      (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', resolve);
      },
    );
    req.on('error', () => resolve());
    req.end('x');
  }).finally(() => socket.destroy());
}

/** {@link preloadHttpClient} for every destination that is reached over HTTP. */
export function preloadDelivery(destinations: readonly Destination[]): void {
  for (const d of destinations) {
    for (const url of d.kind === 'pushgateway' ? d.urls : d.kind === 'textfile' ? [] : [d.url]) {
      preloadHttpClient(url);
    }
  }
}

/**
 * One HTTP request with `node:http`/`node:https`: no redirects followed, no keep-alive,
 * the TLS settings applied to this request only. Network errors are Node's own (with
 * their `code`), so the classification below sees ECONNREFUSED, TLS alert codes and so on.
 */
async function requestWithNode(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | Uint8Array; signal: AbortSignal },
  tls: ConnectOptions,
): Promise<TransportResponse> {
  const u = new URL(url);
  const mod = await clientModule(u.protocol);
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: init.method, headers: init.headers, signal: init.signal, agent: false, ...tls },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_READ_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          // Not a fetch `Headers`: the global loads Node's bundled undici (~25 ms of CPU per run).
          const headers: ResponseHeaders = {
            get: (name) => {
              const v = res.headers[name.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
            },
          };
          const body = Buffer.concat(chunks);
          const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer;
          resolve({ status: res.statusCode ?? 0, headers, arrayBuffer: async () => copy });
        });
      },
    );
    req.on('error', reject);
    if (init.body !== undefined) req.end(init.body);
    else req.end();
  });
}

const TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const TLS_CODES = new Set([
  ...TRUST_CODES,
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
]);

/** Walks an error's cause chain for the first Node error code. */
function findCode(err: unknown): { code?: string; message: string } {
  let e: unknown = err;
  let message = errorText(err);
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof AggregateError && e.errors.length > 0) e = e.errors[0];
    const code = (e as { code?: unknown }).code;
    const reason = (e as { reason?: unknown }).reason;
    if (e instanceof Error) message = typeof reason === 'string' && reason ? reason : e.message;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return { code, message };
    e = (e as { cause?: unknown }).cause;
  }
  return { message };
}

/** The subject alternative names of the peer certificate an error carries, e.g. `DNS:gw.example`. */
function findAltNames(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof AggregateError && e.errors.length > 0) e = e.errors[0];
    const names = (e as { cert?: { subjectaltname?: unknown } }).cert?.subjectaltname;
    if (typeof names === 'string' && names) return names;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The host of a URL (no brackets, no port), for messages. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return url;
  }
}

/** True when the error is the peer closing or resetting the connection. */
function isClosedByPeer(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The origin of a URL, masked, for TLS messages: `https://127.0.0.1:9091`. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return maskUrl(url);
  }
}

interface Classified {
  error: SinkError;
  /** Retry inside this call. */
  retryNow: boolean;
  /** Wait this long before the retry (Retry-After), ms. */
  retryAfterMs?: number;
}

function classifyNetworkError(
  err: unknown,
  req: HttpRequest,
  shownUrl: string,
  timedOut: boolean,
  timeoutMs: number,
  probed?: { code: string; message: string },
): Classified {
  if (timedOut) {
    return {
      error: new SinkError(
        `timeout after ${timeoutMs} ms while ${req.action} ${shownUrl}`,
        { url: shownUrl, isRetryable: true, kind: 'timeout' },
        { cause: err },
      ),
      retryNow: true,
    };
  }
  const found = probed ?? findCode(err);
  const code = found.code;
  // Node says "socket hang up" for a connection closed before the answer.
  let message = code === 'ECONNRESET' ? 'the server closed the connection' : found.message;
  const isTls =
    code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
  if (isTls) {
    let hint = '';
    if (TRUST_CODES.has(code)) hint = ' (set ca-file or --ca-file)';
    else if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE/.test(code))
      hint = ' (the server may require a client certificate: set cert-file and key-file)';
    else if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') hint = ' (is the server speaking plain http?)';
    else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      // Node's own text ("IP: 127.0.0.1 is not in the cert's list: ") does not say what the certificate is for.
      const names = findAltNames(err);
      message = `the server's certificate is not valid for ${hostOf(shownUrl)}${names ? ` (it is for ${names})` : ''}`;
      hint = ' (use a URL with a name the certificate has, or fix the certificate)';
    }
    // The payload is fine; only the setup is wrong: keep it (isRetryable) but do not hammer now.
    return {
      error: new SinkError(
        `TLS error talking to ${originOf(shownUrl)}: ${message}${hint}`,
        { url: shownUrl, isRetryable: true, kind: 'tls' },
        { cause: err },
      ),
      retryNow: false,
    };
  }
  return {
    error: new SinkError(
      `network error while ${req.action} ${shownUrl}: ${message}`,
      { url: shownUrl, isRetryable: true, kind: 'network' },
      { cause: err },
    ),
    retryNow: true,
  };
}

/** Parses `Retry-After` (seconds or an HTTP date) into ms from `now`. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

function oneLine(body: string): string {
  const s = body.trim().replace(/\s*\n\s*/g, ' ');
  return s.length > 500 ? `${s.slice(0, 500)}...` : s;
}

function classifyStatus(
  status: number,
  body: string,
  headers: ResponseHeaders,
  req: HttpRequest,
  shownUrl: string,
): Classified {
  const trimmed = body.trim().slice(0, MAX_BODY_CHARS);
  const retryable = status === 429 || status >= 500;
  let message = `unexpected status ${status} while ${req.action} ${shownUrl}`;
  if (trimmed) message += `: ${oneLine(trimmed)}`;
  if (status === 401) message += ' (check the credentials)';
  if (status >= 300 && status < 400) {
    const loc = headers.get('location');
    message += ` (redirects are not followed${loc ? `; it points to ${maskUrl(loc)}` : ''})`;
  }
  const error = new SinkError(message, {
    url: shownUrl,
    status,
    ...(trimmed ? { body: trimmed } : {}),
    isRetryable: retryable,
    kind: 'status',
  });
  const retryAfterMs = retryable ? parseRetryAfter(headers.get('retry-after')) : undefined;
  return retryAfterMs === undefined
    ? { error, retryNow: retryable }
    : { error, retryNow: retryable, retryAfterMs };
}

/** Builds the request headers: User-Agent, protocol headers, auth, then the user's extra headers. */
async function buildHeaders(
  req: HttpRequest,
  http: HttpOptions,
  userInfo: { user: string; pass: string } | undefined,
  env: NodeJS.ProcessEnv | undefined,
  shownUrl: string,
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'User-Agent': userAgent(), ...req.headers };
  if (http.basicAuth && http.bearerToken) {
    throw new SinkError(`set either basic auth or a bearer token for ${shownUrl}, not both`, {
      url: shownUrl,
      isRetryable: true,
      kind: 'setup',
    });
  }
  const secretOpts = (what: string) => (env ? { env, what, url: shownUrl } : { what, url: shownUrl });
  if (http.basicAuth) {
    const pass = await resolveSecret(http.basicAuth.password, secretOpts('basic auth password'));
    headers.Authorization = `Basic ${Buffer.from(`${http.basicAuth.username}:${pass}`).toString('base64')}`;
  } else if (http.bearerToken) {
    const token = await resolveSecret(http.bearerToken, secretOpts('bearer token'));
    headers.Authorization = `Bearer ${token}`;
  } else if (userInfo) {
    headers.Authorization = `Basic ${Buffer.from(`${userInfo.user}:${userInfo.pass}`).toString('base64')}`;
  }
  for (const [k, v] of Object.entries(http.headers ?? {})) {
    for (const existing of Object.keys(headers))
      if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
    headers[k] = v;
  }
  return headers;
}

async function readTlsFile(file: string, what: string, shownUrl: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SinkError(
      `cannot read ${what} ${file} (${reason})`,
      { url: shownUrl, isRetryable: true, kind: 'setup' },
      { cause: err },
    );
  }
}

interface ConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
}

/**
 * After an https connection was closed on us, finds out whether TLS was the
 * reason. With TLS 1.3 a server that refuses the client certificate (mTLS) says
 * so only after the client's handshake is done, and the request may see just a
 * reset; a bare TLS connection with the same settings sees the alert.
 */
async function probeTls(
  url: string,
  connect: ConnectOptions,
  waitMs: number,
): Promise<{ code: string; message: string } | undefined> {
  const { connect: tlsConnect } = await import('node:tls');
  const { isIP } = await import('node:net');
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 443);
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { code: string; message: string } | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const socket = tlsConnect({ host, port, ...connect, ...(isIP(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => finish(undefined), waitMs);
    socket.on('error', (e) => {
      const f = findCode(e);
      finish(f.code ? { code: f.code, message: f.message } : undefined);
    });
    socket.on('close', () => finish(undefined));
  });
}

/** The TLS settings of a request (CA file, client certificate, skip-verify), files read. */
async function makeTls(http: HttpOptions, shownUrl: string): Promise<ConnectOptions> {
  const connect: ConnectOptions = {};
  if (http.caFile) connect.ca = await readTlsFile(http.caFile, 'ca-file', shownUrl);
  if (http.certFile || http.keyFile) {
    if (!http.certFile || !http.keyFile) {
      throw new SinkError(`set both cert-file and key-file for ${shownUrl}`, {
        url: shownUrl,
        isRetryable: true,
        kind: 'setup',
      });
    }
    connect.cert = await readTlsFile(http.certFile, 'cert-file', shownUrl);
    connect.key = await readTlsFile(http.keyFile, 'key-file', shownUrl);
  }
  if (http.insecureSkipVerify) connect.rejectUnauthorized = false;
  return connect;
}

/** Splits user info off a URL: the request URL has none, the masked one is for messages. */
function splitUrl(url: string): {
  requestUrl: string;
  shownUrl: string;
  userInfo?: { user: string; pass: string };
} {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    const shown = maskUrl(url);
    throw new SinkError(
      `invalid URL ${shown}`,
      { url: shown, isRetryable: true, kind: 'setup' },
      { cause: err },
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    const shown = maskUrl(url);
    throw new SinkError(`unsupported URL scheme ${u.protocol} in ${shown} (use http or https)`, {
      url: shown,
      isRetryable: true,
      kind: 'setup',
    });
  }
  const shownUrl = maskUrl(url);
  if (!u.username && !u.password) return { requestUrl: u.toString(), shownUrl };
  const userInfo = { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) };
  u.username = '';
  u.password = '';
  return { requestUrl: u.toString(), shownUrl, userInfo };
}

/** The delay before retry number `retry` (1-based): full jitter over an exponential cap. */
export function backoffDelay(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

function abortedError(req: HttpRequest, shownUrl: string, reason: unknown): SinkError {
  return new SinkError(
    `aborted while ${req.action} ${shownUrl}`,
    { url: shownUrl, isRetryable: true, kind: 'aborted' },
    { cause: reason },
  );
}

/**
 * Sends one request with the sink's TLS, auth, timeout and retry settings.
 * Each attempt has its own `timeoutMs`; after a network error, a timeout, a 5xx
 * or a 429 it tries again up to `retries` times, waiting
 * `random() * min(30 s, 500 ms * 2^(n-1))` before retry n, or the server's
 * `Retry-After` (a `Retry-After` beyond 30 s ends the retries at once). Any other
 * status outside 2xx ends it at once (redirects are not followed).
 *
 * @returns the 2xx status and body
 * @throws SinkError with the masked URL, the status and the server's body;
 *   `isRetryable` is true when the last failure was a network error, timeout,
 *   5xx or 429, or a setup problem (TLS trust, a secret that cannot be read),
 *   and false for other 4xx answers
 */
export async function sendHttp(
  req: HttpRequest,
  http: HttpOptions,
  opts: SendOptions = {},
): Promise<HttpResponse> {
  const { requestUrl, shownUrl, userInfo } = splitUrl(req.url);
  const headers = await buildHeaders(req, http, userInfo, opts.env, shownUrl);
  const timeoutMs = http.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retries = Math.max(0, http.retries ?? DEFAULT_RETRIES);
  const sleep =
    opts.sleep ?? ((ms: number) => sleepTimer(ms, undefined, opts.signal ? { signal: opts.signal } : {}));
  const random = opts.random ?? Math.random;
  const connect = await makeTls(http, shownUrl);
  const send = (init: Parameters<typeof requestWithNode>[1]): Promise<TransportResponse> =>
    opts.fetch
      ? (opts.fetch as FetchLike)(requestUrl, { ...init, redirect: 'manual' } as RequestInit)
      : requestWithNode(requestUrl, init, connect);
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw abortedError(req, shownUrl, opts.signal.reason);
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = () => ctrl.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let result: Classified;
    try {
      const res = await send({
        method: req.method,
        headers,
        signal: ctrl.signal,
        ...(req.body ? { body: req.body } : {}),
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const body = new TextDecoder().decode(bytes);
      if (res.status >= 200 && res.status < 300) return { status: res.status, body, bytes };
      result = classifyStatus(res.status, body, res.headers, req, shownUrl);
    } catch (err) {
      if (opts.signal?.aborted) throw abortedError(req, shownUrl, opts.signal.reason);
      let probed: { code: string; message: string } | undefined;
      if (!timedOut && requestUrl.startsWith('https:') && isClosedByPeer(err)) {
        probed = await probeTls(requestUrl, connect, Math.min(timeoutMs, 2000));
      }
      result = classifyNetworkError(err, req, shownUrl, timedOut, timeoutMs, probed);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    if (!result.retryNow || attempt > retries) throw result.error.withAttempts(attempt);
    if (result.retryAfterMs !== undefined && result.retryAfterMs > BACKOFF_CAP_MS) {
      const note = `(the server asks to retry after ${Math.ceil(result.retryAfterMs / 1000)} s)`;
      throw result.error.withAttempts(attempt, note);
    }
    const delayMs = result.retryAfterMs ?? backoffDelay(attempt, random);
    opts.onRetry?.({ attempt, delayMs, error: result.error });
    try {
      await sleep(delayMs);
    } catch (err) {
      throw abortedError(req, shownUrl, opts.signal?.reason ?? err);
    }
  }
}
