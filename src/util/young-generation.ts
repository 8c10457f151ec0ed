/**
 * V8's young generation held at its initial size while restic's output streams.
 *
 * What a run allocates per restic line (a chunk, a status line's object) dies young, so
 * letting the new space double under that allocation rate only raises the peak RSS
 * (a 1M-line stream: ~70 -> ~61 MiB, BENCHMARKS.md). V8 reads the growth factor when the
 * space would grow, so setting it at run time takes effect.
 *
 * The setting is held only while a stream runs, and the default is restored after the
 * last one: a changed V8 flag changes V8's flag hash, and every code cache checked against
 * a different hash is rejected, among them node's own for its built-in modules. Set for the
 * whole process, it made every built-in loaded afterwards (`node:http`, `node:net`, ...)
 * compile from source: about as many instructions again as `node -e 0` (BENCHMARKS.md).
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default `--semi-space-growth-factor` (node 20-24). */
const DEFAULT_GROWTH_FACTOR = 2;

let holders = 0;

/**
 * Keeps V8's new space from growing until the returned function is called. Holds nest
 * (several restic processes at once): the default comes back when the last is released.
 * Releasing twice is harmless.
 */
export function holdYoungGeneration(): () => void {
  if (holders++ === 0) setFlagsFromString('--semi-space-growth-factor=1');
  let isReleased = false;
  return () => {
    if (isReleased) return;
    isReleased = true;
    if (--holders === 0) setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  };
}
