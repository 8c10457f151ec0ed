import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { configJsonSchema, renderStarterConfig } from '../../src/config/index.js';
import { SPEC_EXAMPLE } from './examples.js';

type Schema = Record<string, unknown>;

/**
 * A small JSON Schema (2020-12) checker for the keywords the generated schema uses;
 * returns the paths of the values that do not match.
 */
function check(schema: Schema, value: unknown, path = '$'): string[] {
  const errs: string[] = [];
  const kind = (v: unknown) =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (Array.isArray(schema.anyOf)) {
    const ok = (schema.anyOf as Schema[]).some((s) => check(s, value, path).length === 0);
    if (!ok) errs.push(`${path}: matches no anyOf branch`);
  }
  if (typeof schema.type === 'string') {
    const t = kind(value);
    const isOk = schema.type === t || (schema.type === 'number' && t === 'integer');
    if (!isOk) return [...errs, `${path}: expected ${schema.type}, got ${t}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${path}: not in enum`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errs.push(`${path}: above maximum`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength)
      errs.push(`${path}: too short`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) {
      errs.push(`${path}: does not match ${schema.pattern}`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      errs.push(`${path}: too few items`);
    if (schema.items) {
      for (const [i, v] of value.entries()) errs.push(...check(schema.items as Schema, v, `${path}[${i}]`));
    }
  }
  if (kind(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const req of (schema.required ?? []) as string[]) {
      if (!(req in obj)) errs.push(`${path}.${req}: required`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const sub = props[k];
      if (sub) errs.push(...check(sub, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}.${k}: not allowed`);
      else if (typeof schema.additionalProperties === 'object') {
        errs.push(...check(schema.additionalProperties as Schema, v, `${path}.${k}`));
      }
    }
  }
  return errs;
}

describe('configJsonSchema', () => {
  const schema = configJsonSchema() as Schema;

  it('is a draft 2020-12 object schema that round-trips through JSON', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.type, 'object');
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.required, ['profiles']);
    assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema);
    const profile = (schema.properties as Record<string, Schema>).profiles?.additionalProperties as Schema;
    assert.deepEqual(profile.required, ['repository', 'paths', 'tiers']);
    const tier = (profile.properties as Record<string, Schema>).tiers?.additionalProperties as Schema;
    assert.deepEqual(Object.keys(tier.properties as object), [
      'schedule',
      'keep-last',
      'keep-hourly',
      'keep-daily',
      'keep-weekly',
      'keep-monthly',
      'keep-yearly',
      'keep-within',
      'max-age',
      'hooks',
      'notifications',
    ]);
  });

  it('describes check and stats with their schedule, and rejects a schedule that is not a string', () => {
    const profile = (schema.properties as Record<string, Schema>).profiles?.additionalProperties as Schema;
    const props = profile.properties as Record<string, Schema>;
    const objectOf = (s: Schema | undefined) =>
      ((s?.anyOf as Schema[] | undefined) ?? []).find((b) => b.type === 'object');
    assert.deepEqual(Object.keys(objectOf(props.check)?.properties as object), [
      'schedule',
      'read-data-subset',
    ]);
    assert.deepEqual(Object.keys(objectOf(props.stats)?.properties as object), ['schedule']);
    const doc = parse(SPEC_EXAMPLE);
    doc.profiles.nfs.check = { schedule: '0 5 * * 0', 'read-data-subset': '5%' };
    doc.profiles.nfs.stats = { schedule: '15 * * * *' };
    assert.deepEqual(check(schema, doc), []);
    doc.profiles.nfs.stats = { schedule: 15, every: '1h' };
    assert.deepEqual(check(schema, doc), ['$.profiles.nfs.stats: matches no anyOf branch']);
  });

  it("accepts the specification's example and the starter file", () => {
    assert.deepEqual(check(schema, parse(SPEC_EXAMPLE)), []);
    assert.deepEqual(check(schema, parse(renderStarterConfig())), []);
  });

  it('rejects an unknown key, a negative keep-last, missing paths and a bad log format', () => {
    const doc = parse(SPEC_EXAMPLE);
    doc['log-format'] = 'xml';
    doc.profiles.nfs.tiers.daily['keep-last'] = -1;
    doc.profiles.nfs.exclud = [];
    delete doc.profiles.nfs.paths;
    assert.deepEqual(check(schema, doc), [
      '$.profiles.nfs.paths: required',
      '$.profiles.nfs.tiers.daily.keep-last: below minimum',
      '$.profiles.nfs.exclud: not allowed',
      '$.log-format: not in enum',
    ]);
  });
});
