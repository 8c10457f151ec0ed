/**
 * The daemon's defence against DNS rebinding: without basic auth, a request is
 * answered only when its `Host` header names this machine as a browser could not
 * be tricked into (a loopback name, an IP address) or a name the operator chose
 * (the listen host, `daemon.allowed-hosts`).
 *
 * Why IP literals pass: a rebinding page is served from a DNS name that later
 * resolves to the daemon, so its requests carry that name in `Host`; a request
 * whose `Host` is an address was addressed to the daemon by that address, and a
 * page loaded from that address is the daemon's own origin. Names under
 * `.localhost` pass because browsers resolve them to loopback themselves
 * (RFC 6761 section 6.3), without asking DNS.
 * See https://developer.chrome.com/blog/private-network-access-preflight and
 * https://github.com/brannondorsey/dns-rebind-toolkit for the attack.
 */
import { isIP } from 'node:net';

/** Names a `Host` header may carry besides IP addresses and loopback names. */
export interface HostGuardOptions {
  /** The host the daemon binds (`daemon.listen`); `''` for every interface. */
  listenHost: string;
  /** Extra names, e.g. the one a reverse proxy or a Kubernetes service uses. @default [] */
  allowedHosts?: readonly string[];
}

/**
 * The host name of a `Host` header, lower-cased, without the port and the
 * brackets of an IPv6 address; undefined when the header is not a host.
 * @example hostOfHeader('[::1]:9987') // '::1'
 */
export function hostOfHeader(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (v6?.[1]) return isIP(v6[1]) === 6 ? v6[1] : undefined;
  const m = /^([a-z0-9.-]+?)\.?(?::\d{1,5})?$/.exec(h);
  return m?.[1] || undefined;
}

/**
 * True when a request with this `Host` header may be answered without authentication.
 * A request without `Host` (HTTP/1.0, scripts) passes: browsers always send one.
 */
export function isAllowedHost(header: string | undefined, opts: HostGuardOptions): boolean {
  if (header === undefined) return true;
  const host = hostOfHeader(header);
  if (host === undefined) return false;
  if (isIP(host) !== 0) return true;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const listen = opts.listenHost.toLowerCase().replace(/\.$/, '');
  if (listen !== '' && host === listen) return true;
  return (opts.allowedHosts ?? []).some((a) => a.toLowerCase().replace(/\.$/, '') === host);
}
