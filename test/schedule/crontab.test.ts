import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import {
  CRON_BEGIN,
  CRON_END,
  findCronBlock,
  quoteShell,
  readCrontab,
  renderCronBlock,
  replaceCronBlock,
} from '../../src/schedule/crontab.js';
import { installSchedule, removeSchedule } from '../../src/schedule/install.js';
import { planSchedule } from '../../src/schedule/plan.js';
import { makeTempDir } from '../helpers/services.js';

const temps: Array<() => void> = [];
after(() => {
  for (const c of temps) c();
});
function temp(): string {
  const t = makeTempDir('resticprom-crontab-');
  temps.push(t.cleanup);
  return t.dir;
}

const SYSTEM_TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;

function config(tiers: string, timezone = SYSTEM_TZ): Config {
  const yaml = `
timezone: ${timezone}
profiles:
  nfs:
    repository: /srv/repo
    password-file: /etc/resticprom/nfs.pass
    paths: [/srv/nfs]
    tiers:
${tiers}`;
  return parseConfigText(yaml, { file: '/etc/resticprom/resticprom.yaml', env: {} }).config;
}

const SEED_TIERS = `      sub-daily: { schedule: "0 */4 * * *" }
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
      monthly: { schedule: "0 4 1 * *" }
`;

const CMD = ['/usr/bin/node', '/opt/resticprom/cli.js'];
/** Every block ends with the outbox's flush, every 15 minutes. */
const FLUSH_LINES =
  '# deliver the metrics waiting in the outbox\n*/15 * * * * /usr/bin/node /opt/resticprom/cli.js flush --config /c.yaml --quiet\n';
const BLOCK = `${CRON_BEGIN}
# Written by \`resticprom schedule install --cron\`; \`resticprom schedule remove --cron\` deletes this block.
# nfs/sub-daily
0 */4 * * * /usr/bin/node /opt/resticprom/cli.js backup --config /c.yaml --profile nfs --tier sub-daily --quiet
# nfs/daily
30 1 * * * /usr/bin/node /opt/resticprom/cli.js backup --config /c.yaml --profile nfs --tier daily --quiet
# nfs/weekly
0 3 * * 0 /usr/bin/node /opt/resticprom/cli.js backup --config /c.yaml --profile nfs --tier weekly --quiet
# nfs/monthly
0 4 1 * * /usr/bin/node /opt/resticprom/cli.js backup --config /c.yaml --profile nfs --tier monthly --quiet
${FLUSH_LINES}${CRON_END}
`;

describe('crontab block', () => {
  it("renders the seed's four tiers exactly", () => {
    const entries = planSchedule(config(SEED_TIERS));
    assert.equal(renderCronBlock(entries, { command: CMD, configFile: '/c.yaml' }), BLOCK);
  });

  it('renders the check and stats lines exactly, after the tiers', () => {
    const entries = planSchedule(
      config(
        '      daily: { schedule: "30 1 * * *" }\n    check: { schedule: "0 5 * * 0", read-data-subset: 5% }\n    stats: { schedule: "15 * * * *" }\n',
      ),
    );
    assert.equal(
      renderCronBlock(entries, { command: CMD, configFile: '/c.yaml' }),
      `${CRON_BEGIN}
# Written by \`resticprom schedule install --cron\`; \`resticprom schedule remove --cron\` deletes this block.
# nfs/daily
30 1 * * * /usr/bin/node /opt/resticprom/cli.js backup --config /c.yaml --profile nfs --tier daily --quiet
# nfs check
0 5 * * 0 /usr/bin/node /opt/resticprom/cli.js check --config /c.yaml --profile nfs --quiet
# nfs stats
15 * * * * /usr/bin/node /opt/resticprom/cli.js stats --config /c.yaml --profile nfs --quiet
${FLUSH_LINES}${CRON_END}
`,
    );
  });

  it('drops a seconds field of 0 and refuses other seconds', () => {
    const ok = planSchedule(config('      daily: { schedule: "0 30 1 * * *" }\n'));
    assert.match(renderCronBlock(ok, { command: ['/r'], configFile: '/c' }), /\n30 1 \* \* \* \/r backup/);
    const bad = planSchedule(config('      fast: { schedule: "*/10 * * * * *" }\n'));
    assert.throws(() => renderCronBlock(bad, { command: ['/r'], configFile: '/c' }), {
      name: 'UsageError',
      message:
        'schedule "*/10 * * * * *" runs at seconds other than 0, which cron cannot do; use the systemd timers (schedule install without --cron)',
    });
  });

  it('install twice leaves one block; remove leaves the other lines exactly', async () => {
    const dir = temp();
    const file = join(dir, 'crontab');
    const mine = 'MAILTO=ops@example.org\n# my jobs\n*/5 * * * * /usr/local/bin/poll\n';
    writeFileSync(file, mine);
    const opts = {
      config: config(SEED_TIERS),
      configFile: '/c.yaml',
      command: CMD,
      backend: { kind: 'cron' as const, file },
    };
    const first = await installSchedule(opts);
    assert.deepEqual(first.warnings, []);
    assert.equal(readFileSync(file, 'utf8'), `${mine}${BLOCK}`);
    await installSchedule(opts);
    const text = readFileSync(file, 'utf8');
    assert.equal(text, `${mine}${BLOCK}`);
    assert.equal(text.split('\n').filter((l) => l === CRON_BEGIN).length, 1);

    // Lines after the block stay after it; a new install replaces the block in place.
    writeFileSync(file, `${text}0 0 * * * /usr/local/bin/later\n`);
    const oneTier = config('      daily: { schedule: "30 1 * * *" }\n');
    await installSchedule({ ...opts, config: oneTier });
    const replaced = readFileSync(file, 'utf8');
    assert.equal(
      replaced,
      `${mine}${CRON_BEGIN}
# Written by \`resticprom schedule install --cron\`; \`resticprom schedule remove --cron\` deletes this block.
# nfs/daily
30 1 * * * /usr/bin/node /opt/resticprom/cli.js backup --config /c.yaml --profile nfs --tier daily --quiet
${FLUSH_LINES}${CRON_END}
0 0 * * * /usr/local/bin/later
`,
    );

    const removed = await removeSchedule({ kind: 'cron', file });
    assert.deepEqual(removed.removed, ['crontab block']);
    assert.equal(readFileSync(file, 'utf8'), `${mine}0 0 * * * /usr/local/bin/later\n`);
    const again = await removeSchedule({ kind: 'cron', file });
    assert.deepEqual(again.warnings, ['no resticprom block in the crontab']);
  });

  it('warns that cron ignores a configured time zone other than the system one', async () => {
    const dir = temp();
    const zone = SYSTEM_TZ === 'Asia/Tokyo' ? 'Europe/Berlin' : 'Asia/Tokyo';
    const change = await installSchedule({
      config: config('      daily: { schedule: "30 1 * * *" }\n', zone),
      configFile: '/c.yaml',
      command: CMD,
      backend: { kind: 'cron', file: join(dir, 'crontab') },
    });
    assert.deepEqual(change.warnings, [
      `cron runs the schedules in the system's time zone (${SYSTEM_TZ}), not in the configured timezone ${zone}; use the systemd timers to honour it`,
    ]);
  });

  it('reads and writes the user crontab through the crontab command', async () => {
    const dir = temp();
    const store = join(dir, 'store');
    const crontab = join(dir, 'crontab');
    // No cron daemon here: a script with crontab's -l / - interface keeps the table in a file.
    writeFileSync(
      crontab,
      `#!/bin/sh
if [ "$1" = "-l" ]; then
  if [ -f ${store} ]; then cat ${store}; else echo "no crontab for tester" >&2; exit 1; fi
elif [ "$1" = "-" ]; then cat > ${store}; fi
`,
    );
    chmodSync(crontab, 0o755);
    assert.equal(await readCrontab({ crontab }), '');
    await installSchedule({
      config: config(SEED_TIERS),
      configFile: '/c.yaml',
      command: CMD,
      backend: { kind: 'cron', crontab },
    });
    assert.equal(readFileSync(store, 'utf8'), BLOCK);
    await removeSchedule({ kind: 'cron', crontab });
    assert.equal(readFileSync(store, 'utf8'), '');
  });

  it('finds, replaces and rejects blocks', () => {
    assert.equal(findCronBlock('a\nb\n'), undefined);
    assert.deepEqual(findCronBlock(`a\n${CRON_BEGIN}\nx\n${CRON_END}\n`), { begin: 1, end: 3 });
    assert.throws(() => findCronBlock(`a\n${CRON_BEGIN}\nx\n`), {
      message: `the crontab has "${CRON_BEGIN}" on line 2 but no "${CRON_END}" after it; fix it by hand (crontab -e)`,
    });
    // Two old blocks (edited by hand) become one, where the first was.
    const two = `a\n${CRON_BEGIN}\n1\n${CRON_END}\nb\n${CRON_BEGIN}\n2\n${CRON_END}\n`;
    assert.equal(
      replaceCronBlock(two, `${CRON_BEGIN}\nnew\n${CRON_END}\n`),
      `a\n${CRON_BEGIN}\nnew\n${CRON_END}\nb\n`,
    );
    // A last line without a newline gets one (cron would ignore it otherwise).
    assert.equal(replaceCronBlock('a', undefined), 'a\n');
  });

  it('quotes shell words and escapes % for cron', () => {
    assert.equal(quoteShell('/usr/bin/node'), '/usr/bin/node');
    assert.equal(quoteShell('/opt/my app'), "'/opt/my app'");
    assert.equal(quoteShell("it's"), "'it'\\''s'");
    assert.equal(quoteShell('50%'), "'50\\%'");
  });
});
