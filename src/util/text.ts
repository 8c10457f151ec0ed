/**
 * Text for people's terminals: values from restic, servers, config or the state files
 * can hold newlines and escape sequences that would forge lines or repaint the screen.
 */

/**
 * Returns `s` with every control character (C0, DEL, C1) written as `\xNN`, so it prints
 * as one inert line.
 * @example escapeText('a\nb\x1b[2J') // 'a\\x0ab\\x1b[2J'
 */
export function escapeText(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
