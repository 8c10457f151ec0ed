/**
 * Warnings about files the configuration makes resticprom trust: the config file itself (it
 * names `restic-binary` and `password-command`, so whoever can write it runs code as us) and
 * the files holding secrets (repository passwords, gateway passwords, tokens).
 */

import type { SecretSource } from '../sinks/types.js';
import { stat } from '../state/io.js';
import type { Config } from './types.js';

/** The secret files a config refers to, with what each holds. */
export function secretFilesOf(config: Config): { file: string; what: string }[] {
  const out: { file: string; what: string }[] = [];
  const add = (s: SecretSource | undefined, what: string) => {
    if (s && 'file' in s) out.push({ file: s.file, what });
  };
  for (const [name, p] of Object.entries(config.profiles)) {
    if ('file' in p.password)
      out.push({ file: p.password.file, what: `the repository password of profile ${name}` });
    for (const g of p.metrics.pushgateway) {
      add(g.basicAuth?.password, `a gateway password of profile ${name}`);
      add(g.bearerToken, `a gateway token of profile ${name}`);
    }
    for (const r of p.metrics.remoteWrite) {
      add(r.basicAuth?.password, `a remote write password of profile ${name}`);
      add(r.bearerToken, `a remote write token of profile ${name}`);
    }
  }
  add(config.daemon.basicAuth?.password, 'the daemon password');
  return out;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/**
 * One warning per file that others may change (writable by others), read (a secret file
 * readable by others), or that belongs to another user while we run as root. Files that do
 * not exist are left to the code that reads them.
 */
export async function fileTrustWarnings(
  configFile: string,
  config: Config,
  uid: number = process.getuid?.() ?? -1,
): Promise<string[]> {
  const warnings: string[] = [];
  const files = [
    {
      file: configFile,
      what: 'the configuration, which names restic-binary and password-command',
      isSecret: false,
    },
    ...secretFilesOf(config).map((f) => ({ ...f, isSecret: true })),
  ];
  const seen = new Set<string>();
  for (const { file, what, isSecret } of files) {
    if (seen.has(file)) continue;
    seen.add(file);
    const st = await stat(file).catch(() => undefined);
    if (!st) continue;
    const mode = octal(st.mode);
    if (st.mode & 0o002)
      warnings.push(`${file} (${what}) is writable by others (mode ${mode}): chmod o-w ${file}`);
    else if (isSecret && st.mode & 0o004) {
      warnings.push(`${file} (${what}) is readable by others (mode ${mode}): chmod 600 ${file}`);
    }
    if (uid === 0 && st.uid !== 0) {
      warnings.push(
        `${file} (${what}) belongs to uid ${st.uid}, and resticprom runs as root: chown root ${file}`,
      );
    }
  }
  return warnings;
}
