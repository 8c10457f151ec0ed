/**
 * Sizes in the configuration file: `50MiB`, `1GiB`, `500MB`, `1024`.
 */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Parses a size written `50MiB`, `1.5GiB`, `500MB`, `10k` or a bare number of bytes.
 * Binary units (KiB, MiB, GiB, TiB) are powers of 1024; decimal ones (KB/k, MB/M, ...) of 1000.
 * @example parseBytes('50MiB') // 52428800
 */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const factor = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new RangeError(`invalid size "${text}" (write it like 50MiB, 1GiB, 500MB or a number of bytes)`);
  }
  return Math.round(Number(m[1]) * factor);
}
