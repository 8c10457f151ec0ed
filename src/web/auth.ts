/**
 * HTTP basic auth for the daemon's endpoint (RFC 7617), compared in constant
 * time so the answer time does not tell how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StateError, UsageError } from '../errors.js';
import type { SecretSource } from '../sinks/types.js';

/** A username and password the daemon accepts. */
export interface BasicAuthCredentials {
  username: string;
  password: string;
}

/** The `WWW-Authenticate` header of a 401 answer. */
export const BASIC_AUTH_CHALLENGE = 'Basic realm="resticprom", charset="UTF-8"';

/**
 * True when an `Authorization` header carries exactly `expected`'s username and password.
 * Both are compared through SHA-256 digests with `timingSafeEqual`, so neither the
 * length nor the content of a wrong guess changes how long the comparison takes.
 */
export function checkBasicAuth(header: string | undefined, expected: BasicAuthCredentials): boolean {
  let user = '';
  let pass = '';
  let isWellFormed = false;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (m?.[1]) {
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      user = decoded.slice(0, colon);
      pass = decoded.slice(colon + 1);
      isWellFormed = true;
    }
  }
  // Compare both parts every time (no short-circuit) so timing does not tell which was wrong.
  const userOk = safeEqual(user, expected.username);
  const passOk = safeEqual(pass, expected.password);
  return isWellFormed && userOk && passOk;
}

function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/**
 * Reads the password of a basic-auth setting from its source: a file (its first
 * line, without the line end), an environment variable, or a value.
 * @throws StateError when the file cannot be read; UsageError when the variable is unset or the password empty.
 */
export async function resolveBasicAuth(
  auth: { username: string; password: SecretSource },
  env: NodeJS.ProcessEnv = process.env,
): Promise<BasicAuthCredentials> {
  let password: string;
  const src = auth.password;
  if ('file' in src) {
    try {
      password = (await readFile(src.file, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new StateError(
        `cannot read the daemon's basic-auth password file ${src.file} (${code})`,
        src.file,
        {
          cause: err,
        },
      );
    }
  } else if ('env' in src) {
    const v = env[src.env];
    if (v === undefined)
      throw new UsageError(`the daemon's basic-auth password variable ${src.env} is not set`);
    password = v;
  } else {
    password = src.value;
  }
  if (password === '') throw new UsageError("the daemon's basic-auth password is empty");
  return { username: auth.username, password };
}
