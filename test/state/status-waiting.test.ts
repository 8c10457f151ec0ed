/**
 * A tier that has never run is WAITING (healthy) until its first scheduled run after
 * the config first named it, plus its max age, has passed; then NEVER (unhealthy).
 * The moment the config first named a tier is kept in the state directory, so later
 * calls judge against the first one, not their own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.js';
import { tiersSeenPath } from '../../src/state/first-seen.js';
import { computeStatus, formatStatusTable, isHealthy } from '../../src/state/status.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});

const H = 3_600_000;
const DAY = 24 * H;
/** Wednesday 2024-05-15 10:00 UTC. */
const LOADED = Date.UTC(2024, 4, 15, 10, 0);

const config = parseConfigText(
  `
timezone: UTC
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
      monthly: { schedule: "0 4 1 * *" }
`,
  { file: '/c.yaml', env: {} },
).config;

describe('status of a tier that never ran', () => {
  it('is WAITING until its first run (June 1st 04:00) plus its max age (32 days), then NEVER', async () => {
    const t = makeTempDir('resticprom-waiting-');
    temps.push(t.cleanup);
    const first = await computeStatus({ config, stateDir: t.dir, now: LOADED });
    const deadline = Date.UTC(2024, 5, 1, 4, 0) + 32 * DAY;
    assert.deepEqual(
      [first.rows[0]?.state, first.rows[0]?.firstSeen, first.rows[0]?.waitingUntil],
      ['WAITING', LOADED, deadline],
    );
    assert.equal(isHealthy(first.rows), true);
    assert.deepEqual(JSON.parse(readFileSync(tiersSeenPath(t.dir), 'utf8')), {
      v: 1,
      tiers: { 'nfs/monthly': LOADED },
    });
    assert.match(formatStatusTable(first, { timeZone: 'UTC' }), /\nnfs {6}monthly {2}WAITING {2}- /);

    // Later calls keep the first moment: still WAITING at the deadline, NEVER one ms later.
    const atDeadline = await computeStatus({ config, stateDir: t.dir, now: deadline - 1 });
    assert.equal(atDeadline.rows[0]?.state, 'WAITING');
    const late = await computeStatus({ config, stateDir: t.dir, now: deadline });
    assert.equal(late.rows[0]?.state, 'NEVER');
    assert.equal(late.rows[0]?.firstSeen, LOADED);
    assert.equal(late.rows[0]?.waitingUntil, undefined);
    assert.equal(isHealthy(late.rows), false);
  });
});
