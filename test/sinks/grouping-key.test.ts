import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidMetricsError } from '../../src/errors.js';
import { encodeGroupingPath } from '../../src/sinks/grouping-key.js';

describe('encodeGroupingPath', () => {
  it('builds the path with labels sorted by name', () => {
    assert.equal(
      encodeGroupingPath('nfs_backup', { tier: 'daily', instance: 'nfs1' }),
      '/metrics/job/nfs_backup/instance/nfs1/tier/daily',
    );
  });

  it('uses base64url without padding for values with "/" and "=" for empty values', () => {
    assert.equal(
      encodeGroupingPath('cleaner', { path: '/var/tmp' }),
      '/metrics/job/cleaner/path@base64/L3Zhci90bXA',
    );
    assert.equal(encodeGroupingPath('j', { host: '' }), '/metrics/job/j/host@base64/=');
    // 'ab?/' in base64 is 'YWI/Lw==': the url-safe alphabet turns '/' into '_', padding goes.
    assert.equal(encodeGroupingPath('j', { a: 'ab?/' }), '/metrics/job/j/a@base64/YWI_Lw');
  });

  it('base64-encodes the job too when it contains "/"', () => {
    assert.equal(encodeGroupingPath('a/b', {}), '/metrics/job@base64/YS9i');
  });

  it('base64-encodes "." and ".." which URL parsers would resolve away', () => {
    assert.equal(encodeGroupingPath('j', { a: '.', b: '..' }), '/metrics/job/j/a@base64/Lg/b@base64/Li4');
  });

  it('percent-encodes other values, space as %20 and never +', () => {
    assert.equal(
      encodeGroupingPath('my job', { v: 'a b+c%d?e#f&é' }),
      '/metrics/job/my%20job/v/a%20b%2Bc%25d%3Fe%23f%26%C3%A9',
    );
  });

  it('refuses bad grouping label names and an empty job before any network call', () => {
    const cases: [string, Record<string, string>, string][] = [
      ['j', { '1a': 'x' }, 'invalid grouping label name "1a" (must match [a-zA-Z_][a-zA-Z0-9_]*)'],
      ['j', { 'a-b': 'x' }, 'invalid grouping label name "a-b" (must match [a-zA-Z_][a-zA-Z0-9_]*)'],
      ['j', { __name__: 'x' }, 'grouping label name __name__ is reserved (starts with "__")'],
      ['j', { job: 'x' }, 'grouping label "job" is not allowed; the job is given on its own'],
      ['', {}, 'job must not be empty'],
    ];
    for (const [job, grouping, message] of cases) {
      assert.throws(
        () => encodeGroupingPath(job, grouping),
        (err: unknown) => err instanceof InvalidMetricsError && err.message === message,
        message,
      );
    }
  });
});
