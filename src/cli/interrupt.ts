/**
 * The signals that interrupt a foreground run: SIGINT (Ctrl-C), SIGTERM (a service manager)
 * and SIGHUP (the terminal or SSH session went away). Each stops the job the same way: restic
 * is stopped with SIGINT, the run is recorded and reported as interrupted, the locks are gone.
 */

/** The signals {@link onInterrupt} handles. */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Calls `handler` with the signal's name on SIGINT, SIGTERM or SIGHUP. After a SIGHUP the
 * terminal may be gone: writing to it fails (EIO, EPIPE), and those failures are ignored so
 * that the run is still recorded and delivered. Returns a function that removes the handlers.
 */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  active++;
  const ignore = () => {};
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === 'SIGHUP') {
      process.stdout.on('error', ignore);
      process.stderr.on('error', ignore);
    }
    handler(sig);
  };
  for (const s of INTERRUPT_SIGNALS) process.on(s, onSignal);
  return () => {
    active--;
    for (const s of INTERRUPT_SIGNALS) process.off(s, onSignal);
  };
}

/** Jobs with {@link onInterrupt} handlers right now (the CLI runs one at a time). */
let active = 0;

/**
 * True while a job runs: then a reader that went away (a closed pipe, a dropped terminal) must
 * not end the process, or the run would be lost; it finishes, is recorded and delivered.
 */
export function isJobRunning(): boolean {
  return active > 0;
}
