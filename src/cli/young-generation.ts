/**
 * V8's young generation held at its initial size for the whole run, without costing node's
 * own code cache (measured: BENCHMARKS.md, "Start-up of a warm run", third round).
 *
 * What a run allocates per restic line (a chunk, a status line's object) dies young, so a
 * larger new space only raises the peak RSS (1M-line stream: ~70 -> ~61 MiB). The growth
 * factor is read when the space would grow, so setting it at any time takes effect.
 *
 * But V8 accepts a code cache only when it was made under the same flags (the cache carries a
 * hash of them), and node's built-in modules (`http`, `child_process`, `crypto`...) are
 * compiled from node's code cache: with the flag set, each one loaded afterwards is parsed
 * and compiled from its source instead. So the flag is back at V8's default while a built-in
 * module is first required, and at 1 otherwise; a scavenge that happens inside that window
 * may grow the space once, which is all it costs.
 */
import Module from 'node:module';
import { setFlagsFromString } from 'node:v8';

/** The flag that keeps the new space at its initial size. */
const YOUNG = '--semi-space-growth-factor=1';
/** V8's default (v8/src/flags/flag-definitions.h, `semi_space_growth_factor`). */
const DEFAULT = '--semi-space-growth-factor=2';
const HELD = Symbol.for('resticprom.youngGenerationHeld');

/**
 * Holds the young generation at its initial size until {@link withDefaultFlags}; a second
 * call (the CLI's entry and the bundle both ask) does nothing.
 */
export function holdYoungGeneration(): void {
  const g = globalThis as { [HELD]?: boolean };
  if (g[HELD]) return;
  g[HELD] = true;
  setFlagsFromString(YOUNG);
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  const original = proto.require;
  const loaded = new Set<string>();
  proto.require = function requireWithNodeCodeCache(this: unknown, id: string): unknown {
    if (loaded.has(id) || !Module.isBuiltin(id)) return original.call(this, id);
    loaded.add(id);
    return withDefaultFlags(() => original.call(this, id));
  };
}

/** Runs `fn` with V8's flags at their defaults (for a code cache made or read meanwhile). */
export function withDefaultFlags<T>(fn: () => T): T {
  const g = globalThis as { [HELD]?: boolean };
  if (!g[HELD]) return fn();
  setFlagsFromString(DEFAULT);
  try {
    return fn();
  } finally {
    setFlagsFromString(YOUNG);
  }
}
