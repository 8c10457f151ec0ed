/**
 * The environment of every child resticprom starts (restic, `run -- CMD`, hooks): the
 * parent's, without resticprom's own secret variables and without any variable a secret
 * reference of the config or flags names (a gateway's `password-env`, a bearer token's `env`).
 */
import type { Destination, SecretSource } from '../sinks/types.js';

/** resticprom's own variables that hold a secret; never passed to a child. */
export const SECRET_ENV = {
  basicAuthPassword: 'RESTICPROM_BASIC_AUTH_PASSWORD',
  bearerToken: 'RESTICPROM_BEARER_TOKEN',
} as const;

/** The environment variables the destinations' secret references name. */
export function secretVariablesOf(destinations: readonly Destination[]): string[] {
  const names: string[] = [];
  const add = (s: SecretSource | undefined) => {
    if (s && 'env' in s) names.push(s.env);
  };
  for (const d of destinations) {
    if (d.kind === 'textfile') continue;
    add(d.basicAuth?.password);
    add(d.bearerToken);
  }
  return names;
}

/**
 * Returns a copy of `env` without {@link SECRET_ENV}'s variables and without `secretNames`.
 * @example childEnv({ PATH: '/bin', GW_PW: 'x' }, ['GW_PW']) // { PATH: '/bin' }
 */
export function childEnv(env: NodeJS.ProcessEnv, secretNames: readonly string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of [...Object.values(SECRET_ENV), ...secretNames]) delete out[name];
  return out;
}
