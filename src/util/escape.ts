/**
 * Makes text from outside (a hook's output, a receiver's answer, a value from the
 * config) safe to print: no terminal escape sequences, no line breaks that would
 * forge a log line.
 */

/**
 * Replaces control characters (C0 except tab, DEL, C1) with `\xNN`, and a line break
 * with `\n`, so the text prints as one line and cannot drive the terminal.
 * @example escapeControl('a\x1b[31mb\n') // 'a\\x1b[31mb\\n'
 */
export function escapeControl(text: string): string {
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) =>
    c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** The text as one escaped line of at most `max` characters (`...` marks a cut). */
export function oneLine(text: string, max = 500): string {
  const line = escapeControl(text.replace(/\r?\n+$/, '').replace(/\s*\r?\n\s*/g, ' | '));
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}
