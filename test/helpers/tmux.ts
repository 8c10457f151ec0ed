/**
 * A real terminal for tests: a detached tmux session of a given size running one command,
 * whose screen is read back with `capture-pane` (what a person would see) and which can be
 * resized like a terminal window.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** `false`, or why tests that need tmux are skipped. */
export function tmuxSkip(): false | string {
  const r = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  return r.status === 0
    ? false
    : 'tmux is not installed (scripts/setup.sh installs it: apt-get install tmux)';
}

/** A tmux session with one pane. */
export interface TmuxTerminal {
  /** The screen's rows, trailing blanks trimmed; `isJoined` joins rows that one line wrapped onto. */
  capture(opts?: { isJoined?: boolean }): string[];
  /** Resizes the window, as a person dragging the terminal's corner. */
  resize(columns: number, rows?: number): void;
  /** Ends the session (and the command in it). */
  kill(): void;
}

let started = 0;

/**
 * Starts `command` (run by /bin/sh) in a new detached session `columns` × `rows`, on a server
 * of its own (socket in `dir`), so nothing of the user's tmux is touched.
 */
export function startTmux(dir: string, command: string, columns: number, rows = 24): TmuxTerminal {
  const socket = join(dir, `tmux-${++started}.sock`);
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-s', 't', '-x', String(columns), '-y', String(rows), command);
  return {
    capture(opts = {}) {
      const out = tmux('capture-pane', '-p', ...(opts.isJoined ? ['-J'] : []), '-t', 't');
      return out.split('\n').map((l) => l.trimEnd());
    },
    resize(c, r = rows) {
      tmux('resize-window', '-t', 't', '-x', String(c), '-y', String(r));
    },
    kill() {
      spawnSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' });
    },
  };
}
