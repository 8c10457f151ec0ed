/**
 * Property: the configuration loader on mutated configurations (the specification's example
 * and the starter file, with lines deleted, duplicated, re-indented, characters flipped and
 * values replaced by wrong types). It returns a config or throws a ConfigError, nothing else;
 * every problem names the file and a line inside it; the message is one line per problem.
 * A sample also goes through `resticprom config validate`: exit 2 and no stack trace.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfigText } from '../../src/config/load.js';
import { renderStarterConfig } from '../../src/config/starter.js';
import { ConfigError, formatConfigProblem } from '../../src/errors.js';
import { SPEC_EXAMPLE } from '../config/examples.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';
import { runs, SEED } from './settings.js';

const BASES = { spec: SPEC_EXAMPLE, starter: renderStarterConfig() };
const FILE = '/etc/resticprom/resticprom.yaml';

const WRONG_VALUES = [
  '[]',
  '{}',
  '-1',
  '0',
  '1.5',
  'true',
  'null',
  '~',
  '""',
  "'",
  '"',
  '1e400',
  '0x10',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR} syntax
  '"${NOPE}"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR} syntax
  '${NOPE:-}',
  '$${x}',
  '${',
  '*nope',
  '&a x',
  '!!binary aGk=',
  '!!int x',
  '|',
  '>',
  '[a, {b: c}]',
  '{ schedule: "61 * * * *" }',
  '"0 */4 * * *"',
  '{ keep-last: 0 }',
  '"{nope}"',
  '__proto__',
  '{ __proto__: 1 }',
  'yes',
  '2024-01-01',
  '- x',
  '? x',
];

type Op =
  | { kind: 'delete' | 'dup' | 'indent' | 'dedent' | 'tab'; at: number }
  | { kind: 'flip'; at: number; pos: number; char: string }
  | { kind: 'value'; at: number; value: string }
  | { kind: 'key'; at: number; key: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('delete', 'dup', 'indent', 'dedent', 'tab') as fc.Arbitrary<
      'delete' | 'dup' | 'indent' | 'dedent' | 'tab'
    >,
    at: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    pos: fc.nat(),
    char: fc.constantFrom(
      ':',
      ' ',
      '-',
      '#',
      '{',
      '}',
      '[',
      ']',
      '"',
      "'",
      '\t',
      'x',
      '0',
      '&',
      '*',
      '!',
      '%',
      '@',
      '`',
      '\u00a0',
      'é',
    ),
  }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('value' as const),
      at: fc.nat(),
      value: fc.constantFrom(...WRONG_VALUES),
    }),
  },
  fc.record({
    kind: fc.constant('key' as const),
    at: fc.nat(),
    key: fc.constantFrom(
      'profiles',
      'tiers',
      'metrics',
      'paths',
      'repository',
      'job',
      'x-y',
      '<<',
      '1',
      '"a b"',
      'password',
    ),
  }),
);

function mutate(text: string, ops: Op[]): string {
  const lines = text.split('\n');
  for (const op of ops) {
    const i = op.at % lines.length;
    const line = lines[i] as string;
    switch (op.kind) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'dup':
        lines.splice(i, 0, line);
        break;
      case 'indent':
        lines[i] = ` ${line}`;
        break;
      case 'dedent':
        lines[i] = line.replace(/^ {1,2}/, '');
        break;
      case 'tab':
        lines[i] = line.replace(/^ {2}/, '\t');
        break;
      case 'flip': {
        const p = line.length === 0 ? 0 : op.pos % line.length;
        lines[i] = `${line.slice(0, p)}${op.char}${line.slice(p + 1)}`;
        break;
      }
      case 'value': {
        // Replace what follows the first `key:` (or the list item) with a wrong value.
        const m = /^(\s*(?:- )?[^#:]+:)(\s.*)?$/.exec(line);
        lines[i] = m ? `${m[1]} ${op.value}` : `${line} ${op.value}`;
        break;
      }
      case 'key':
        lines[i] = line.replace(/^(\s*)[^:\s]+:/, `$1${op.key}:`);
        break;
    }
  }
  return lines.join('\n');
}

const caseArb = fc.record({
  base: fc.constantFrom('spec', 'starter') as fc.Arbitrary<keyof typeof BASES>,
  ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
});

/** Checks one result of parseConfigText; returns whether the text was refused. */
function checkOutcome(text: string): { refused: boolean; problems: number } {
  let err: unknown;
  try {
    parseConfigText(text, { file: FILE, env: {} });
    return { refused: false, problems: 0 };
  } catch (e) {
    err = e;
  }
  assert.ok(
    err instanceof ConfigError,
    `threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack}`,
  );
  assert.ok(err.problems.length > 0, 'at least one problem');
  const lineCount = text.split('\n').length;
  for (const p of err.problems) {
    assert.equal(p.file, FILE);
    assert.ok(
      Number.isInteger(p.line) && (p.line as number) >= 1 && (p.line as number) <= lineCount + 1,
      `problem without a line in the file: ${JSON.stringify(p)}`,
    );
    assert.doesNotMatch(p.message, /\n/, `one line: ${JSON.stringify(p.message)}`);
    assert.doesNotMatch(p.message, /^\s+at /m);
  }
  assert.equal(err.message, err.problems.map(formatConfigProblem).join('\n'));
  assert.equal(err.message.split('\n').length, err.problems.length);
  return { refused: true, problems: err.problems.length };
}

describe('config loader on mutated configurations (property)', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(async () => {
    tmp = makeTempDir('resticprom-props-config-');
    await ensureBuilt();
  });
  after(() => tmp?.cleanup());

  it('both base files load as written', () => {
    for (const text of Object.values(BASES))
      assert.deepEqual(checkOutcome(text), { refused: false, problems: 0 });
  });

  it('found by the property: an alias without anchor, a "${" spanning lines', () => {
    const alias = SPEC_EXAMPLE.replace('paths: [/srv/nfs]', 'paths: *nope');
    assert.throws(
      () => parseConfigText(alias, { file: FILE, env: {} }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          `${FILE}:5: YAML error: Unresolved alias (the anchor must be set before the alias): nope`,
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR} syntax
    const block = 'profiles:\n  nfs:\n    repository: >\n      a ${\n      b}\n';
    assert.throws(
      () => parseConfigText(block, { file: FILE, env: {} }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some(
          (p) =>
            p.line === 3 &&
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR} syntax
            p.message === 'invalid variable reference "${ b}": write ${NAME} or ${NAME:-default}',
        ),
    );
  });

  const refusedSample: string[] = [];
  const totals = { cases: 0, refused: 0, loaded: 0, problems: 0 };

  it('throws only ConfigError, every problem with the file and a line, one line each', (t) => {
    fc.assert(
      fc.property(caseArb, ({ base, ops }) => {
        const text = mutate(BASES[base], ops);
        const r = checkOutcome(text);
        totals.cases++;
        totals.problems += r.problems;
        if (r.refused) {
          totals.refused++;
          if (refusedSample.length < 50 && totals.refused % 7 === 0) refusedSample.push(text);
        } else totals.loaded++;
      }),
      { numRuns: runs(4000), seed: SEED },
    );
    t.diagnostic(`mutated configs: ${JSON.stringify(totals)}`);
    assert.ok(totals.refused > totals.cases / 4 && totals.loaded > 0, JSON.stringify(totals));
  });

  it('resticprom config validate: exit 2, every problem on its own line, no stack trace (50 refused files)', async () => {
    assert.equal(refusedSample.length, 50);
    for (const [i, text] of refusedSample.entries()) {
      const file = join(tmp.dir, `c${i}.yaml`);
      writeFileSync(file, text, { mode: 0o600 });
      const r = await runCli(['config', 'validate', '--config', file], { env: { HOME: tmp.dir } });
      assert.equal(r.code, 2, `exit code for:\n${text}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^ {4}at /m, r.stderr);
      assert.equal(r.stdout, '');
      // The same problems as the library's, one line each (the CLI names the file as given).
      let expected = '';
      try {
        parseConfigText(text, { file, env: {} });
      } catch (e) {
        expected = (e as ConfigError).message;
      }
      assert.equal(r.stderr, `${expected}\n`);
    }
  });
});
