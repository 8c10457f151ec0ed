/**
 * What `config validate` checks beyond the file itself for notifications: that every
 * secret file a receiver names (url, token, headers) can be read, that every `env`
 * reference is set, and that every webhook body template parses. A run never stops
 * on these (a notification must not cost a backup); validate reports them with lines.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { ConfigProblem } from '../errors.js';
import type { SecretSource } from '../sinks/types.js';
import { findKeyLine, formatKeyPath } from './load.js';
import type { LoadedConfig, NotificationConfig } from './types.js';

/** Returns the problems of the receivers' secrets and templates, each with its file and line. */
export async function checkNotificationSetup(
  loaded: LoadedConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConfigProblem[]> {
  const text = await readFile(loaded.file, 'utf8');
  const out: ConfigProblem[] = [];
  const problem = (path: (string | number)[], message: string) => {
    const line = findKeyLine(text, path);
    out.push({
      file: loaded.file,
      path: formatKeyPath(path),
      message,
      ...(line !== undefined ? { line } : {}),
    });
  };
  const checkSource = async (s: SecretSource, path: (string | number)[]) => {
    if ('file' in s) {
      const ok = await access(s.file, constants.R_OK).then(
        () => true,
        (err: NodeJS.ErrnoException) => err.code ?? 'unreadable',
      );
      if (ok !== true) problem([...path, 'file'], `cannot read ${s.file} (${ok})`);
    } else if ('env' in s && env[s.env] === undefined) {
      problem([...path, 'env'], `environment variable ${s.env} is not set`);
    }
  };
  const checkList = async (list: NotificationConfig[] | undefined, at: (string | number)[]) => {
    for (const [i, n] of (list ?? []).entries()) {
      const path = [...at, 'notifications', i];
      await checkSource(n.url, [...path, 'url']);
      if (n.token) await checkSource(n.token, [...path, 'token']);
      for (const [name, h] of Object.entries(n.headers)) await checkSource(h, [...path, 'headers', name]);
      if (n.body !== undefined) {
        const { checkBodyTemplate } = await import('../notify/notifiers/webhook.js');
        const bad = await checkBodyTemplate(n.body);
        if (bad) problem([...path, 'body'], `the template does not parse: ${bad}`);
      }
    }
  };
  for (const [name, p] of Object.entries(loaded.config.profiles)) {
    await checkList(p.notifications, ['profiles', name]);
    for (const [tier, t] of Object.entries(p.tiers))
      await checkList(t.notifications, ['profiles', name, 'tiers', tier]);
  }
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
