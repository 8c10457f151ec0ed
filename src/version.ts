/**
 * resticprom's own version: inlined by the CLI bundle, read from package.json otherwise.
 */
import { readFileSync } from 'node:fs';

declare const RESTICPROM_VERSION: string | undefined;

let cached: string | undefined;

/** The version of this resticprom, e.g. `0.1.0`. */
export function getVersion(): string {
  if (typeof RESTICPROM_VERSION === 'string') return RESTICPROM_VERSION;
  if (cached) return cached;
  let url = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'resticprom' && pkg.version) {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // not here; look one folder up
    }
    url = new URL('..', url);
  }
  cached = '0.0.0-dev';
  return cached;
}
