/**
 * How a hook command is started: a list is the argv as written; a string without
 * shell syntax is split on white space and started without a shell; a string with
 * shell syntax (quotes, `$`, pipes, redirections, `;`, `&`, globs, `~`, `#`,
 * parentheses, braces, backslashes or a line break) runs as `/bin/sh -c STRING`.
 */
import type { HookCommand } from '../config/types.js';

/** Characters that make a string a shell command. */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~{}\n]/;

/** A hook command ready to spawn. */
export interface ParsedHookCommand {
  file: string;
  args: string[];
  /** True when it runs through `/bin/sh -c`. */
  isShell: boolean;
  /** How messages name it: the program, or `sh -c` with the start of the string. */
  label: string;
}

/** Returns true when `command` has shell syntax and so runs through `/bin/sh -c`. */
export function hasShellSyntax(command: string): boolean {
  return SHELL_SYNTAX.test(command);
}

/** Turns a configured hook command into the file and arguments to start. */
export function parseHookCommand(command: HookCommand): ParsedHookCommand {
  if (Array.isArray(command)) {
    const [file = '', ...args] = command;
    return { file, args, isShell: false, label: file };
  }
  if (hasShellSyntax(command)) {
    const start = command.trim().split(/\s+/)[0] ?? '';
    return { file: '/bin/sh', args: ['-c', command], isShell: true, label: `sh -c "${start} ..."` };
  }
  const [file = '', ...args] = command.trim().split(/\s+/);
  return { file, args, isShell: false, label: file };
}
