/**
 * Finds, reads, interpolates and validates the configuration file. Every problem
 * of a file is collected and thrown at once in one {@link ConfigError}, each with
 * its file, line and key path.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem, errorText } from '../errors.js';
import { checkConfigRules, type RawProblem } from './checks.js';
import { fileTrustWarnings } from './file-trust.js';
import { type ConfigFileText, findConfigFile, readConfigFile, withStateDirFlag } from './find.js';
import { interpolateValue } from './interpolate.js';
import { normalizeConfig } from './normalize.js';
import { type RawConfig, rawConfigSchema, UNKNOWN_KEYS_MARK } from './schema.js';
import { suggest } from './suggest.js';
import type { Config, LoadedConfig } from './types.js';

export { DEFAULT_CONFIG_PATHS, hasConfigFile } from './find.js';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The file to read (`--config`); no lookup when set. */
  file?: string;
  /** Environment for `$RESTICPROM_CONFIG`, `${VAR}` interpolation and defaults. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Folder relative paths are taken from. @default process.cwd() */
  cwd?: string;
  /**
   * `--state-dir` of the command line; wins over `$RESTICPROM_STATE_DIR` and the file's
   * `state-dir` (see resolveStateDir, the one precedence of every command).
   */
  stateDir?: string | undefined;
}

/**
 * Loads and validates the configuration file.
 * Lookup: `file`, else `$RESTICPROM_CONFIG`, else `./resticprom.yaml`, else
 * `/etc/resticprom/resticprom.yaml`.
 * @throws ConfigError listing every problem (file, line, key path), a YAML syntax
 * error with its line, or one line naming the places looked at when there is no file.
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = await findConfigFile(opts.file, env, cwd);
  const loaded = validateConfigFile(await readConfigFile(file), { env });
  // File modes change without the text changing: checked on every load, never cached.
  loaded.warnings.push(...(await fileTrustWarnings(file, loaded.config)));
  return withStateDirFlag(loaded, opts.stateDir, cwd);
}

/** A string value as written in the file: where, how (`PLAIN`, `QUOTE_DOUBLE`...), before and after `${ENV}`. */
export interface ScalarSource {
  /** Offset of its first character in the text (a quote, for a quoted value). */
  start: number;
  /** Offset just past its last character. */
  end: number;
  /** yaml's scalar type. */
  type: string;
  /** The value as written (quotes and escapes resolved), before interpolation. */
  written: string;
  /** The value after interpolation (and re-typing of a plain value). */
  value: unknown;
}

/** Options of {@link validateConfigFile}. */
export interface ValidateConfigOptions {
  /** Environment for `${VAR}` interpolation and defaults. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Sees every string value of the file (the validated config cache finds secrets' places with it). */
  onScalar?: (scalar: ScalarSource) => void;
}

/**
 * Validates a config file already read: parses, interpolates, checks, normalizes, and adds
 * the warning about an inline password in a file others can read.
 * @throws ConfigError listing every problem.
 */
export function validateConfigFile(read: ConfigFileText, opts: ValidateConfigOptions = {}): LoadedConfig {
  const { file } = read;
  const parsed = parseConfigText(read.text, { file, ...opts });
  const warnings = [...parsed.warnings];
  const inline = parsed.inlineSecrets;
  if (inline.length > 0 && read.mode & 0o044) {
    const octal = (read.mode & 0o777).toString(8).padStart(4, '0');
    warnings.unshift(
      `${file} contains a password inline (${inline.join(', ')}) and is readable by others (mode ${octal}): chmod 600 ${file}`,
    );
  }
  return { file, config: parsed.config, warnings };
}

/** What {@link parseConfigText} returns. */
export interface ParsedConfigText {
  config: Config;
  /** Warnings found in the text itself (not the file's mode). */
  warnings: string[];
  /** Key paths holding a secret written inline (not from `${ENV}`). */
  inlineSecrets: string[];
}

/**
 * Parses and validates configuration text (YAML). `file` names it in problems and
 * is the base of relative paths.
 * @throws ConfigError listing every problem.
 */
export function parseConfigText(
  text: string,
  opts: { file: string } & ValidateConfigOptions,
): ParsedConfigText {
  const env = opts.env ?? process.env;
  const file = opts.file;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;
  const fail = (problems: RawProblem[]): never => {
    throw new ConfigError(toConfigProblems(problems, doc, lineCounter, file));
  };

  if (doc.errors.length > 0) {
    fail(
      doc.errors.map((e) => ({
        path: [],
        line: e.linePos?.[0]?.line ?? lineAt(e.pos[0]),
        message: `YAML syntax error: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }

  const problems: RawProblem[] = [];
  const interpolated = new Set<string>();
  interpolateNode(doc.contents, [], { env, problems, interpolated, lineAt, onScalar: opts.onScalar });
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // yaml resolves aliases only here: `*name` without an earlier `&name`, or too many aliases.
    const message = errorText(err);
    fail([
      {
        path: [],
        line: lineAt(aliasOffset(doc, message)) ?? 1,
        message: `YAML error: ${message.split('\n')[0]}`,
      },
    ]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    fail([{ path: [], line: 1, message: 'expected a map with a profiles: key at the top' }]);
  }
  const result = rawConfigSchema.safeParse(data, { reportInput: true });
  if (!result.success) problems.push(...issuesToProblems(result.error.issues, []));
  problems.push(...checkConfigRules(data));
  if (problems.length > 0 || !result.success) fail(problems);
  const raw = result.data as RawConfig;
  const config = normalizeConfig(raw, { file, env });
  return {
    config,
    warnings: textWarnings(config),
    inlineSecrets: findInlineSecrets(raw, interpolated),
  };
}

/**
 * Gives problems found after loading (a missing password file, an unknown restic flag)
 * the file and line of their key in the config text, like the loader's own problems.
 */
export function locateProblems(text: string, file: string, problems: RawProblem[]): ConfigProblem[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
  return toConfigProblems(problems, doc, lineCounter, file);
}

/** Where the alias a toJS error names (`...: nope`) starts, else the first alias. */
function aliasOffset(doc: Document, message: string): number | undefined {
  const named = /: (\S+)$/.exec(message)?.[1];
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (offset === undefined || node.source === named) offset = node.range?.[0];
      return node.source === named ? visit.BREAK : undefined;
    },
  });
  return offset;
}

/** Formats a key path: `profiles.nfs.metrics.remote-write[0].url`. */
export function formatKeyPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

interface InterpolationCtx {
  env: NodeJS.ProcessEnv;
  problems: RawProblem[];
  interpolated: Set<string>;
  lineAt: (offset: number | undefined) => number | undefined;
  onScalar: ((scalar: ScalarSource) => void) | undefined;
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value (keys stay as
 * written); `$${` stands for a literal `${`. A plain (unquoted) scalar that becomes
 * a number, true/false or empty is typed again, as if written so.
 */
function interpolateNode(node: unknown, path: (string | number)[], ctx: InterpolationCtx): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      interpolateNode(pair.value, [...path, key], ctx);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      interpolateNode(item, [...path, i], ctx);
    });
  } else if (isScalar(node) && typeof node.value === 'string') {
    const written = node.value;
    if (written.includes('${')) {
      const line = ctx.lineAt(node.range?.[0]);
      const done = interpolateValue(written, ctx.env);
      for (const message of done.problems) ctx.problems.push({ path, line, message });
      if (done.isChanged) ctx.interpolated.add(formatKeyPath(path));
      if (done.isChanged || done.value !== written) {
        node.value = node.type === 'PLAIN' ? retype(done.value) : done.value;
      }
    }
    if (ctx.onScalar && node.range) {
      ctx.onScalar({
        start: node.range[0],
        end: node.range[1],
        type: String(node.type),
        written,
        value: node.value,
      });
    }
  }
}

function retype(s: string): unknown {
  const t = s.trim();
  if (t === '' || t === '~' || t === 'null') return null;
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return s;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
  null: 'null',
};

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function issuesToProblems(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[]): RawProblem[] {
  const out: RawProblem[] = [];
  for (const iss of issues) {
    const path = [...prefix, ...iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const input = (iss as { input?: unknown }).input;
    switch (iss.code) {
      case 'unrecognized_keys': {
        const known = iss.message.startsWith(UNKNOWN_KEYS_MARK)
          ? iss.message.slice(UNKNOWN_KEYS_MARK.length).split(',')
          : [];
        for (const key of iss.keys) {
          const hint = suggest(key, known);
          out.push({
            path: [...path, key],
            isAtKey: true,
            message: `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''}`,
          });
        }
        break;
      }
      case 'invalid_union': {
        // Report the branch that matches the value's kind (a map vs a list), not every branch.
        const branches = iss.errors.filter(
          (errs) => !errs.some((e) => e.code === 'invalid_type' && e.path.length === 0),
        );
        const best = branches.sort((a, b) => a.length - b.length)[0];
        if (best) out.push(...issuesToProblems(best, path));
        else if (input === undefined) out.push({ path, message: 'is required' });
        else {
          const expected = iss.errors
            .flatMap((errs) => errs.filter((e) => e.code === 'invalid_type' && e.path.length === 0))
            .map(
              (e) => TYPE_NAMES[(e as { expected: string }).expected] ?? (e as { expected: string }).expected,
            );
          out.push({
            path,
            message: `expected ${[...new Set(expected)].join(' or ')}, got ${describeValue(input)}`,
          });
        }
        break;
      }
      case 'invalid_type':
        out.push({
          path,
          message:
            input === undefined
              ? 'is required'
              : `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(input)}`,
        });
        break;
      case 'too_small':
        out.push({
          path,
          message:
            iss.origin === 'array' || iss.origin === 'set'
              ? Number(iss.minimum) <= 1
                ? 'must not be empty'
                : `needs at least ${iss.minimum} items`
              : iss.origin === 'string'
                ? 'must not be empty'
                : `must be ${iss.inclusive ? '>=' : '>'} ${iss.minimum}, got ${String(input)}`,
        });
        break;
      case 'too_big':
        out.push({
          path,
          message: `must be ${iss.inclusive ? '<=' : '<'} ${iss.maximum}, got ${String(input)}`,
        });
        break;
      case 'invalid_value':
        out.push({
          path,
          message: `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}`,
        });
        break;
      default:
        out.push({ path, message: iss.message });
    }
  }
  return out;
}

/** Finds the line of a key path in the document: the key's line, or its parent's when the key is missing. */
function lineOfPath(
  doc: Document,
  lc: LineCounter,
  path: (string | number)[],
  isAtKey: boolean,
): number | undefined {
  const lineOf = (n: Node | null | undefined | unknown): number | undefined => {
    const range = (n as Node | null)?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  let node: unknown = doc.contents;
  let line = lineOf(node);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const isLast = i === path.length - 1;
    if (isMap(node)) {
      if (typeof seg === 'number' && seg === 0) continue; // one object written where a list is allowed
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      line = lineOf(pair.key) ?? line;
      if (isLast && isAtKey) return line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      line = lineOf(item) ?? line;
      node = item;
    } else {
      break;
    }
  }
  return line;
}

function toConfigProblems(
  problems: RawProblem[],
  doc: Document,
  lc: LineCounter,
  file: string,
): ConfigProblem[] {
  const out = problems.map((p): ConfigProblem => {
    const line = p.line ?? lineOfPath(doc, lc, p.path, p.isAtKey ?? false);
    const cp: ConfigProblem = { file, path: formatKeyPath(p.path), message: p.message };
    if (line !== undefined) cp.line = line;
    return cp;
  });
  const seen = new Set<string>();
  return out
    .filter((p) => {
      const k = `${p.line}|${p.path}|${p.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

function findInlineSecrets(raw: RawConfig, interpolated: Set<string>): string[] {
  const found: string[] = [];
  const note = (path: (string | number)[]) => {
    const key = formatKeyPath(path);
    if (!interpolated.has(key)) found.push(key);
  };
  const http = (
    h: { 'basic-auth'?: { password?: string | undefined } | undefined; headers?: unknown },
    at: (string | number)[],
  ) => {
    if (h['basic-auth']?.password !== undefined) note([...at, 'basic-auth', 'password']);
    if (h.headers && typeof h.headers === 'object') {
      for (const name of Object.keys(h.headers)) {
        if (/^(authorization|proxy-authorization|x-api-key|x-scope-orgid-token)$/i.test(name))
          note([...at, 'headers', name]);
      }
    }
  };
  for (const [name, p] of Object.entries(raw.profiles)) {
    const at = ['profiles', name];
    if (p.password !== undefined) note([...at, 'password']);
    for (const k of Object.keys(p.env ?? {})) {
      if (/SECRET|PASSWORD|PASS$|TOKEN|_KEY$|CREDENTIAL/i.test(k) && !/_FILE$|_ID$/i.test(k))
        note([...at, 'env', k]);
    }
    const gws = p.metrics?.pushgateway;
    if (Array.isArray(gws)) gws.forEach((g, i) => void http(g, [...at, 'metrics', 'pushgateway', i]));
    else if (gws) http(gws, [...at, 'metrics', 'pushgateway']);
    for (const [i, r] of (p.metrics?.['remote-write'] ?? []).entries())
      http(r, [...at, 'metrics', 'remote-write', i]);
    for (const [i, o] of (p.metrics?.otlp ?? []).entries()) http(o, [...at, 'metrics', 'otlp', i]);
  }
  return found;
}

function textWarnings(config: Config): string[] {
  const out: string[] = [];
  for (const [name, p] of Object.entries(config.profiles)) {
    const tierCount = Object.keys(p.tiers).length;
    if (tierCount < 2) continue;
    const m = p.metrics;
    const hasPush = m.pushgateway.length > 0;
    if (hasPush && !Object.values(m.grouping).some((v) => v.includes('{tier}'))) {
      out.push(
        `profiles.${name}.metrics.grouping: no value contains {tier}, so the ${tierCount} tiers share one Pushgateway group and each push replaces the other tiers' values; add e.g. tier: "{tier}"`,
      );
    }
    if (m.textfile && !m.textfile.includes('{tier}')) {
      out.push(
        `profiles.${name}.metrics.textfile: the ${tierCount} tiers write the same file and each run replaces the others' metrics; put {tier} in the name`,
      );
    }
  }
  return out;
}

/** The line of a key path (`['profiles', 'nfs', 'notifications', 0, 'token']`) in configuration text, if it is there. */
export function findKeyLine(text: string, path: (string | number)[]): number | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return lineOfPath(doc, lineCounter, path, false);
}
