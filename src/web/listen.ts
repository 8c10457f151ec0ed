/**
 * The daemon's listen address: `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every
 * interface), and whether it is reachable only from this machine.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

/** A parsed listen address. */
export interface ListenAddress {
  /** Host or IP to bind; `''` for every interface. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/** The daemon's default listen address. */
export const DEFAULT_LISTEN = '127.0.0.1:9987';

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT`.
 * @throws UsageError naming the value, e.g. `invalid listen address "localhost" (write HOST:PORT, e.g. 127.0.0.1:9987)`.
 * @example parseListen('[::1]:9987') // { host: '::1', port: 9987 }
 */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`invalid listen address "${text}" (write HOST:PORT, e.g. ${DEFAULT_LISTEN})`);
  }
  const host = m[1] ?? m[2] ?? '';
  if (m[1] !== undefined && isIP(host) !== 6) {
    throw new UsageError(`invalid listen address "${text}": ${host} is not an IPv6 address`);
  }
  return { host, port };
}

/** True when `host` accepts connections from this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host.toLowerCase().startsWith('::ffff:127.');
}

/** Formats an address for URLs and logs: `127.0.0.1:9987`, `[::1]:9987`. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host || '0.0.0.0'}:${port}`;
}
