/**
 * Test helpers for the real Debian binaries: the service starters shared with
 * `resticprom demo`, plus certificates and password hashes for TLS/auth tests.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

export * from '../../src/demo/services.js';

/** A self-signed CA and a server certificate for 127.0.0.1/localhost, made with openssl. */
export function makeCertificates(dir: string, opts: { serverNames?: string[] } = {}) {
  const names = opts.serverNames ?? ['DNS:localhost', 'IP:127.0.0.1'];
  const p = (f: string) => join(dir, f);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=resticprom test CA',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
  ]);
  const issue = (base: string, cn: string, ext: string) => {
    run([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      p(`${base}.key`),
      '-out',
      p(`${base}.csr`),
    ]);
    writeFileSync(p(`${base}.ext`), ext);
    run([
      'x509',
      '-req',
      '-in',
      p(`${base}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      p(`${base}.pem`),
      '-extfile',
      p(`${base}.ext`),
    ]);
  };
  issue('server', 'localhost', `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth\n`);
  issue('client', 'resticprom client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}

/** A bcrypt hash for a web config's `basic_auth_users`. */
export function bcryptHash(password: string): string {
  return bcrypt.hashSync(password, 4);
}
