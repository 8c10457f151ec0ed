/**
 * Seed and size of the property-based tests. Fixed by default so a run is repeatable;
 * `PROPS_SEED=<n>` explores other cases and `PROPS_SCALE=<x>` multiplies the number of
 * cases (fast-check prints the seed and the shrunk counterexample of a failure).
 */

/** The seed every property of test/props uses. @default 20250101 */
export const SEED = Number(process.env.PROPS_SEED ?? 20250101);

/** Multiplies each property's number of runs. @default 1 */
export const SCALE = Number(process.env.PROPS_SCALE ?? 1);

/** `n` runs, scaled by {@link SCALE} (at least 1). */
export function runs(n: number): number {
  return Math.max(1, Math.round(n * SCALE));
}
