/**
 * Durations that become timers: past Node's limit (2^31-1 ms, about 24.8 days) a timer fires
 * at once, so `daemon.grace-period: 4w` interrupted at once, `inactivity-timeout: 4w` flooded
 * stderr with TimeoutOverflowWarning, a `timeout: 25d` timed out every attempt. They are
 * refused at load with the file, line and key; up to the limit they are accepted.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/services.js';

/** A private password file, so that `config validate` has nothing else to say. */
const tmp = makeTempDir('resticprom-timers-');
const passwordFile = join(tmp.dir, 'password');
writeFileSync(passwordFile, 'not-used\n', { mode: 0o600 });

const config = (extra: {
  top?: string;
  profile?: string;
  gateway?: string;
}) => `state-dir: /tmp/unused-timer-limits
${extra.top ?? ''}
profiles:
  p:
    repository: /srv/repo
    password-file: ${passwordFile}
    paths: [/tmp]
${extra.profile ?? ''}
    tiers:
      daily: { schedule: "0 1 * * *" }
    metrics:
      pushgateway: { url: "http://127.0.0.1:9"${extra.gateway ?? ''} }
`;

describe('timer durations are bounded at load', () => {
  before(async () => {
    await ensureBuilt();
  });
  after(() => tmp.cleanup());

  const validate = async (name: string, text: string) => {
    const file = join(tmp.dir, `${name}.yaml`);
    writeFileSync(file, text, { mode: 0o600 });
    return { file, r: await runCli(['config', 'validate', '--config', file]) };
  };

  for (const [key, text, line, path] of [
    ['daemon.grace-period', config({ top: 'daemon: { grace-period: 4w }' }), 2, 'daemon.grace-period'],
    [
      'inactivity-timeout',
      config({ profile: '    inactivity-timeout: 4w' }),
      8,
      'profiles.p.inactivity-timeout',
    ],
    ['lock.wait', config({ top: 'lock: { wait: 4w }' }), 2, 'lock.wait'],
    [
      'a gateway timeout',
      config({ gateway: ', timeout: 25d' }),
      12,
      'profiles.p.metrics.pushgateway.timeout',
    ],
  ] as const) {
    it(`refuses ${key} past 24d20h with file, line and key`, async () => {
      const { file, r } = await validate(key.replace(/\W/g, '_'), text);
      assert.equal(r.code, ExitCode.USAGE);
      const value = key === 'a gateway timeout' ? '25d' : '4w';
      assert.equal(
        r.stderr,
        `${file}:${line}: ${path}: "${value}" is longer than 24d20h, the longest wait that can be timed (2^31-1 ms)\n`,
      );
    });
  }

  it('accepts 24d and a max-age of 35d', async () => {
    const { r } = await validate(
      'ok',
      config({ top: 'daemon: { grace-period: 24d }', gateway: ', timeout: 24d' }).replace(
        'daily: { schedule: "0 1 * * *" }',
        'daily: { schedule: "0 1 * * *", max-age: 35d }',
      ),
    );
    assert.equal(r.code, ExitCode.OK, r.stderr);
  });

  it('refuses push --timeout 25d', async () => {
    const r = await runCli(
      [
        'push',
        '--gateway',
        'http://127.0.0.1:9',
        '--job',
        'j',
        '--timeout',
        '25d',
        '--state-dir',
        join(tmp.dir, 's'),
        '-',
      ],
      {
        input: '# TYPE x gauge\nx 1\n',
      },
    );
    assert.equal(r.code, ExitCode.USAGE);
    assert.equal(
      r.stderr,
      'resticprom: --timeout 25d is longer than 24d20h, the longest wait that can be timed (2^31-1 ms)\n',
    );
  });
});
