/**
 * `${VAR}` and `${VAR:-default}` in configuration values; `$${` stands for a literal `${`.
 * Used by the validation and by the validated config cache, which re-derives secrets
 * from the file instead of storing them.
 */

/** What {@link interpolateValue} made of one value. */
export interface Interpolated {
  value: string;
  /** True when at least one reference was replaced. */
  isChanged: boolean;
  /** One message per reference that could not be replaced (invalid, or an unset variable). */
  problems: string[];
}

/** Replaces the references in `value` with values from `env`. */
export function interpolateValue(value: string, env: NodeJS.ProcessEnv): Interpolated {
  const problems: string[] = [];
  let isChanged = false;
  const out = value.replace(/\$\$\{|\$\{([^}]*)\}/g, (match, inner: string | undefined) => {
    if (match === '$${') return '${';
    isChanged = true;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(inner ?? '');
    if (!m) {
      // JSON quoting keeps the problem on one line (a `${` in a block scalar spans lines).
      problems.push(
        `invalid variable reference ${JSON.stringify(match.length > 60 ? `${match.slice(0, 60)}...` : match)}: write \${NAME} or \${NAME:-default}`,
      );
      return match;
    }
    const name = m[1] as string;
    const fallback = m[2];
    const v = env[name];
    if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
    if (v === undefined) {
      problems.push(`environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
      return match;
    }
    return v;
  });
  return { value: out, isChanged, problems };
}
