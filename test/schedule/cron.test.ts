import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Cron } from 'croner';
import { UsageError } from '../../src/errors.js';
import { cronToOnCalendar, nextRun, parseCron } from '../../src/schedule/cron.js';

/** The next `n` elapses of OnCalendar expressions after `base`, from systemd itself (Unix ms, merged, sorted). */
function systemdElapses(exprs: string[], base: Date, n: number): number[] {
  const out = new Set<number>();
  for (const expr of exprs) {
    const text = execFileSync(
      'systemd-analyze',
      ['calendar', `--base-time=@${Math.floor(base.getTime() / 1000)}`, `--iterations=${n}`, expr],
      { env: { ...process.env, TZ: 'UTC', SYSTEMD_COLORS: '0' }, encoding: 'utf8' },
    );
    assert.doesNotMatch(text, /Failed/);
    for (const m of text.matchAll(
      /(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g,
    )) {
      out.add(Date.parse(`${(m[1] as string).replace(' ', 'T')}Z`));
    }
  }
  return [...out].sort((a, b) => a - b).slice(0, n);
}

function cronerRuns(expr: string, tz: string, base: Date, n: number): number[] {
  return new Cron(expr, { paused: true, timezone: tz }).nextRuns(n, base).map((d) => d.getTime());
}

describe('cron to OnCalendar', () => {
  it("converts the seed's four tiers exactly", () => {
    assert.deepEqual(cronToOnCalendar('0 */4 * * *'), ['*-*-* 00/4:00:00']);
    assert.deepEqual(cronToOnCalendar('30 1 * * *'), ['*-*-* 01:30:00']);
    assert.deepEqual(cronToOnCalendar('0 3 * * 0'), ['Sun *-*-* 03:00:00']);
    assert.deepEqual(cronToOnCalendar('0 4 1 * *'), ['*-*-01 04:00:00']);
  });

  it('converts lists, ranges, steps, names, seconds and a time zone', () => {
    assert.deepEqual(cronToOnCalendar('15,45 8-17 * * 1-5'), ['Mon..Fri *-*-* 08..17:15,45:00']);
    assert.deepEqual(cronToOnCalendar('0 9-17/2 * * *'), ['*-*-* 09..17/2:00:00']);
    assert.deepEqual(cronToOnCalendar('0 0 * jan,jul-sep MON,wed'), ['Mon,Wed *-01,07..09-* 00:00:00']);
    assert.deepEqual(cronToOnCalendar('*/10 * * * * *'), ['*-*-* *:*:00/10']);
    assert.deepEqual(cronToOnCalendar('30 0 12 * * *'), ['*-*-* 12:00:30']);
    assert.deepEqual(cronToOnCalendar('0 0 */2 * *'), ['*-*-01/2 00:00:00']);
    assert.deepEqual(cronToOnCalendar('0 0 1 */3 *'), ['*-01/3-01 00:00:00']);
    assert.deepEqual(cronToOnCalendar('0 0 * * 5-7'), ['Fri..Sun *-*-* 00:00:00']);
    assert.deepEqual(cronToOnCalendar('0 0 * * */2'), ['Tue,Thu,Sat,Sun *-*-* 00:00:00']);
    assert.deepEqual(cronToOnCalendar('0 0 * * 7'), ['Sun *-*-* 00:00:00']);
    assert.deepEqual(cronToOnCalendar('30 1 * * *', { timeZone: 'Europe/Berlin' }), [
      '*-*-* 01:30:00 Europe/Berlin',
    ]);
  });

  it('writes two OnCalendar lines when day of month OR day of week is meant', () => {
    assert.deepEqual(cronToOnCalendar('0 4 1,15 * 0'), ['Sun *-*-* 04:00:00', '*-*-01,15 04:00:00']);
    // A weekday field covering every day makes the OR true on every day.
    assert.deepEqual(cronToOnCalendar('0 4 1 * 0-6'), ['*-*-* 04:00:00']);
  });

  it('rejects what it cannot convert, naming the field', () => {
    assert.throws(() => cronToOnCalendar('0 0 L * *'), {
      name: 'UsageError',
      message:
        'cron expression "0 0 L * *": day of month "L": L, W and # cannot be converted; write the days out',
    });
    assert.throws(() => cronToOnCalendar('0 5/5 * * *'), {
      message: 'cron expression "0 5/5 * * *": hour "5/5": "5/5": write a step on a range or *, like */5',
    });
    assert.throws(() => cronToOnCalendar('0 24 * * *'), {
      message: 'cron expression "0 24 * * *": hour "24": 24 is outside 0-23',
    });
    assert.throws(() => cronToOnCalendar('0 0 * * 5-2'), /range 5-2 runs backwards/);
    assert.throws(() => cronToOnCalendar('0 0 * *'), UsageError);
    assert.equal(parseCron('0 0 * * *').hasSeconds, false);
  });

  const cases: Array<[string, string]> = [
    ['0 */4 * * *', 'UTC'],
    ['30 1 * * *', 'UTC'],
    ['0 3 * * 0', 'UTC'],
    ['0 4 1 * *', 'UTC'],
    ['15,45 8-17 * * 1-5', 'UTC'],
    ['0 9-17/2 * * *', 'UTC'],
    ['0 0 * jan,jul-sep MON,wed', 'UTC'],
    ['*/10 * * * * *', 'UTC'],
    ['0 0 */2 * *', 'UTC'],
    ['0 0 1 */3 *', 'UTC'],
    ['0 0 * * */2', 'UTC'],
    ['0 4 1,15 * 0', 'UTC'],
    ['30 1 * * *', 'Europe/Berlin'],
    ['0 3 * * 0', 'America/New_York'],
  ];
  for (const [expr, tz] of cases) {
    it(`"${expr}" (${tz}): systemd's next 12 elapses equal croner's next 12 runs`, () => {
      const base = new Date(Date.UTC(2024, 0, 1, 0, 0, 0) + 1000); // just after midnight, a Monday
      const onCalendar = cronToOnCalendar(expr, { timeZone: tz });
      assert.deepEqual(systemdElapses(onCalendar, base, 12), cronerRuns(expr, tz, base, 12));
    });
  }
});

describe('nextRun', () => {
  it('returns the next run in the time zone, strictly after the instant', () => {
    const after = new Date(Date.UTC(2024, 4, 1, 10, 2));
    assert.equal(
      nextRun('30 1 * * *', { timeZone: 'UTC', after })?.toISOString(),
      '2024-05-02T01:30:00.000Z',
    );
    assert.equal(
      nextRun('30 1 * * *', { timeZone: 'Europe/Berlin', after })?.toISOString(),
      '2024-05-01T23:30:00.000Z',
    );
    assert.equal(
      nextRun('0 4 1 * *', { timeZone: 'UTC', after: new Date(Date.UTC(2024, 4, 1, 4)) })?.toISOString(),
      '2024-06-01T04:00:00.000Z',
    );
  });

  it('throws UsageError for an expression croner rejects', () => {
    assert.throws(() => nextRun('61 * * * *'), UsageError);
  });
});
