/**
 * The daemon's HTTP endpoint (node:http, no framework):
 *
 * - `GET /metrics`: the latest metrics of every run, exposed as a Pushgateway
 *   would (see {@link readLatestMetrics}), plus the daemon's own gauges.
 * - `GET /healthz`: `200 ok` while the process serves requests (never behind auth,
 *   so liveness probes need no password; it tells nothing).
 * - `GET /api/status`, `GET /api/history?profile&tier&kind&limit`: JSON.
 * - `GET /`: the status page.
 *
 * With basic auth set, everything but `/healthz` answers 401 without the right
 * credentials. Without it, a request whose `Host` header is not this machine's
 * (see {@link isAllowedHost}: the defence against DNS rebinding) answers 403.
 * Only GET and HEAD are served; a request target that is not a URL path answers 400.
 * Warnings met while answering are passed on at most once a minute per kind.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorText } from '../errors.js';
import { readLatestMetrics } from '../state/latest.js';
import { rateLimitWarnings } from '../util/rate-limit.js';
import { parseHistoryQuery, type StatusView } from './api.js';
import { BASIC_AUTH_CHALLENGE, type BasicAuthCredentials, checkBasicAuth } from './auth.js';
import { createHistoryCache } from './history-cache.js';
import { isAllowedHost } from './host-guard.js';
import { formatHostPort, type ListenAddress } from './listen.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './page.js';

/** Content-Type of `/metrics`: text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Options of {@link startWebServer}. */
export interface WebServerOptions {
  /** Where to listen; port 0 picks a free port. */
  listen: ListenAddress;
  /** The state directory whose latest metrics and history are served. */
  stateDir: string;
  /** Builds the `/api/status` answer (the daemon adds next runs and what is running). */
  status: () => Promise<StatusView>;
  /** Exposition text appended to `/metrics` (the daemon's own gauges). @default none */
  extraMetrics?: () => string;
  /** Credentials required on every path but `/healthz`. @default none (open) */
  basicAuth?: BasicAuthCredentials;
  /**
   * Host names answered without basic auth besides IP addresses, loopback names and
   * the listen host (`daemon.allowed-hosts`). @default []
   */
  allowedHosts?: readonly string[];
  /** Called with problems met while answering (unreadable state files, errors). @default ignored */
  onWarning?: (message: string) => void;
}

/** A running web server. */
export interface WebServer {
  /** Host it is bound to (as the OS reports it). */
  host: string;
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:9987`. */
  url: string;
  /** Replaces the credentials (after a config reload); undefined opens the endpoint. */
  setBasicAuth(auth: BasicAuthCredentials | undefined): void;
  /** Replaces the extra allowed host names (after a config reload). */
  setAllowedHosts(hosts: readonly string[]): void;
  /** Stops accepting connections, ends idle keep-alive ones, and resolves when closed. */
  close(): Promise<void>;
}

/**
 * Starts the daemon's HTTP server and resolves once it listens.
 * @throws the listen error (e.g. `EADDRINUSE`) when the address cannot be bound.
 */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  let auth = opts.basicAuth;
  let allowedHosts = opts.allowedHosts ?? [];
  const warn = rateLimitWarnings(opts.onWarning ?? (() => {}));
  const history = createHistoryCache(opts.stateDir);
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      warn('request-failed', `HTTP ${req.method} ${JSON.stringify(req.url)}: ${errorText(err)}`);
      if (!res.headersSent) send(res, req, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // Slow or idle clients must not keep the daemon from shutting down or eat sockets.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url);
    if (!url) {
      warn('bad-request', `HTTP ${req.method} ${JSON.stringify(req.url)}: not a URL path, answered 400`);
      send(res, req, 400, 'text/plain; charset=utf-8', 'bad request\n');
      return;
    }
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      send(res, req, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    }
    if (!auth && !isAllowedHost(req.headers.host, { listenHost: opts.listen.host, allowedHosts })) {
      warn(
        'host-refused',
        `HTTP request for Host ${JSON.stringify(req.headers.host)} refused (not this machine's name; add it to daemon.allowed-hosts or set daemon.basic-auth)`,
      );
      send(res, req, 403, 'text/plain; charset=utf-8', 'host not allowed\n');
      return;
    }
    if (auth && !checkBasicAuth(req.headers.authorization, auth)) {
      res.setHeader('WWW-Authenticate', BASIC_AUTH_CHALLENGE);
      send(res, req, 401, 'text/plain; charset=utf-8', 'unauthorized\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        const latest = await readLatestMetrics(opts.stateDir);
        for (const w of latest.warnings) warn('state', w);
        const extra = opts.extraMetrics?.() ?? '';
        send(res, req, 200, METRICS_CONTENT_TYPE, latest.text + extra);
        return;
      }
      case '/api/status': {
        sendJson(res, req, await opts.status());
        return;
      }
      case '/api/history': {
        const query = parseHistoryQuery(url.searchParams);
        send(res, req, 200, JSON_CONTENT_TYPE, await history.answer(query));
        return;
      }
      case '/favicon.ico':
        // The page has no icon; answering 204 spares browsers a 404 in their console.
        res.statusCode = 204;
        res.setHeader('Cache-Control', 'max-age=86400');
        res.end();
        return;
      case '/':
      case '/index.html':
        res.setHeader('Content-Security-Policy', STATUS_PAGE_CSP);
        send(res, req, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
        return;
      default:
        send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => warn('server', `HTTP server: ${err.message}`));
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    url: `http://${formatHostPort(connectHost(addr.address), addr.port)}`,
    setBasicAuth: (a) => {
      auth = a;
    },
    setAllowedHosts: (hosts) => {
      allowedHosts = hosts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/**
 * The URL of a request target (`/path?query`, or the absolute form a proxy sends);
 * undefined when it is not one, e.g. `//[` (an authority that is no host).
 */
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** The host to put in a URL for a bound address (`0.0.0.0` and `::` are not reachable as such). */
function connectHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string): void {
  const buf = Buffer.from(body, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', buf.length);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.end(req.method === 'HEAD' ? undefined : buf);
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

function sendJson(res: ServerResponse, req: IncomingMessage, value: unknown): void {
  send(res, req, 200, JSON_CONTENT_TYPE, `${JSON.stringify(value)}\n`);
}
