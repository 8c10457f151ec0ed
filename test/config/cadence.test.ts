import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCron } from '../../src/config/cadence.js';
import {
  defaultKeepWithin,
  deriveMaxAgeMs,
  keepPolicyArgs,
  largestGapMs,
  tierMaxAgeMs,
} from '../../src/config/index.js';

const H = 3_600_000;
const D = 24 * H;

describe('schedule cadence', () => {
  it("derives the seed's max ages: 6h, 26h, 8d, 32d", () => {
    assert.equal(deriveMaxAgeMs('0 */4 * * *'), 6 * H);
    assert.equal(deriveMaxAgeMs('30 1 * * *'), 26 * H);
    assert.equal(deriveMaxAgeMs('0 3 * * 0'), 8 * D);
    assert.equal(deriveMaxAgeMs('0 4 1 * *'), 32 * D);
  });

  it('measures the largest gap between runs, not the first one', () => {
    assert.equal(largestGapMs('0 4 1 * *'), 31 * D);
    // Weekdays at 02:00: Friday to Monday is the largest gap.
    assert.equal(largestGapMs('0 2 * * 1-5'), 3 * D);
    assert.equal(deriveMaxAgeMs('0 2 * * 1-5'), 4 * D);
    // Six fields: a leading seconds field.
    assert.equal(largestGapMs('0 */30 * * * *'), 30 * 60_000);
    assert.equal(deriveMaxAgeMs('0 */30 * * * *'), 3 * H); // 30m + 2h, rounded up to the hour
  });

  it('uses max-age when the tier sets it', () => {
    assert.equal(tierMaxAgeMs({ schedule: '30 1 * * *', isKeepDefault: false, maxAgeMs: 5 * H }), 5 * H);
    assert.equal(tierMaxAgeMs({ schedule: '30 1 * * *', isKeepDefault: false }), 26 * H);
  });

  it("gives the seed's retention to tiers without keep options", () => {
    assert.equal(defaultKeepWithin('0 */4 * * *'), '2d');
    assert.equal(defaultKeepWithin('30 1 * * *'), '7d');
    assert.equal(defaultKeepWithin('0 3 * * 0'), '1m');
    assert.equal(defaultKeepWithin('0 4 1 * *'), '1y');
  });

  it('turns keep options into restic forget flags', () => {
    assert.deepEqual(
      keepPolicyArgs({
        schedule: '0 1 * * *',
        isKeepDefault: false,
        keepLast: 7,
        keepMonthly: 2,
        keepWithin: '2d',
      }),
      ['--keep-last', '7', '--keep-monthly', '2', '--keep-within', '2d'],
    );
  });

  it('explains bad expressions', () => {
    assert.equal(checkCron('30 1 * * *'), undefined);
    assert.equal(
      checkCron('61 * * * *'),
      'invalid cron expression "61 * * * *": Invalid value for minute: 61',
    );
    assert.equal(
      checkCron('0 0 1 1 * 2030'),
      'invalid cron expression "0 0 1 1 * 2030": Invalid value for dayOfWeek: 2030',
    );
    assert.equal(
      checkCron('* * *'),
      '"* * *" has 3 fields; write 5 (minute hour day month weekday) or 6 with a leading seconds field',
    );
    assert.throws(() => largestGapMs('nope'), RangeError);
  });
});
