import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Config,
  loadConfig,
  parseConfigText,
  profileDestinations,
  renderStarterConfig,
  resolveProfile,
} from '../../src/config/index.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/services.js';
import { SEVERAL_ERRORS, SPEC_EXAMPLE } from './examples.js';

const ENV = { HOME: '/home/backup' } as NodeJS.ProcessEnv;

let dir: string;
let cleanup: () => void;

before(() => {
  ({ dir, cleanup } = makeTempDir('resticprom-config-'));
});
after(() => cleanup());

function write(name: string, text: string, mode = 0o600): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

async function problemsOf(text: string, env: NodeJS.ProcessEnv = ENV) {
  const file = write(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
  const err = await loadConfig({ file, env }).then(
    () => assert.fail('expected a ConfigError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  return { file, problems: err.problems, message: err.message };
}

describe('loadConfig', () => {
  it("loads the specification's example as written, with every value mapped", async () => {
    const file = write('spec.yaml', SPEC_EXAMPLE);
    const { file: loadedFrom, config, warnings } = await loadConfig({ file, env: ENV });
    assert.equal(loadedFrom, file);
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.keys(config.profiles), ['nfs']);
    assert.deepEqual(config.profiles.nfs, {
      repository: '/srv/restic-repo',
      password: { file: '/etc/resticprom/nfs.pass' },
      env: {},
      paths: ['/srv/nfs'],
      exclude: [],
      excludeIfPresent: ['.nobackup'],
      excludeFile: [],
      resticArgs: [],
      cpuLimit: 1,
      nice: 10,
      unlockStaleLocks: false,
      forgetAfterBackup: false,
      prune: false,
      tiers: {
        'sub-daily': { schedule: '0 */4 * * *', keepLast: 12, isKeepDefault: false },
        daily: { schedule: '30 1 * * *', keepLast: 7, isKeepDefault: false },
        weekly: { schedule: '0 3 * * 0', keepLast: 5, isKeepDefault: false },
        monthly: { schedule: '0 4 1 * *', keepLast: 12, isKeepDefault: false },
      },
      metrics: {
        job: 'nfs_backup',
        grouping: { instance: '{tier}' },
        labels: {},
        pushgateway: [
          {
            urls: ['https://my-gtw:443'],
            require: 'all',
            caFile: '/etc/resticprom/ca.pem',
            basicAuth: { username: 'backup', password: { file: '/etc/resticprom/gw.pass' } },
          },
        ],
        remoteWrite: [],
        otlp: [],
        textfile: null,
      },
    });
    assert.equal(config.resticBinary, 'restic');
    assert.deepEqual(config.lock, { waitMs: 0 });
    assert.deepEqual(config.daemon, { listen: '127.0.0.1:9987', runMissed: true, gracePeriodMs: 300_000 });
    assert.deepEqual(config.outbox, { maxEntries: 1000, maxBytes: 52_428_800 });
    assert.equal(config.logFormat, 'text');
    assert.equal(config.timezone, Intl.DateTimeFormat().resolvedOptions().timeZone);
  });

  it('maps every optional key, resolving relative files against the config folder', async () => {
    const file = write(
      'full/resticprom.yaml',
      `state-dir: state
timezone: Europe/Berlin
hostname: nas1
restic-binary: /opt/restic
lock: { wait: 10m }
daemon: { listen: "0.0.0.0:9999", run-missed: false, grace-period: 90s, basic-auth: { username: ops, password-file: daemon.pass } }
outbox: { max-entries: 50, max-bytes: 1GiB }
log-format: json
profiles:
  s3:
    repository: s3:s3.amazonaws.com/bucket
    password-command: pass show restic
    env: { AWS_ACCESS_KEY_ID: AKIA1, AWS_DEFAULT_REGION: eu-west-1, RETRIES: 3 }
    paths: [/home, /etc]
    exclude-file: excludes.txt
    inactivity-timeout: 15m
    unlock-stale-locks: true
    forget-after-backup: true
    prune: true
    check: { schedule: "0 5 * * 0", read-data-subset: 5% }
    stats: { schedule: " 15 * * * * " }
    tiers:
      hourly: { schedule: "0 0 * * * *", keep-hourly: 24, keep-within: 1y5m, max-age: 3h }
    metrics:
      job: "{profile}_backup"
      grouping: { instance: "{hostname}", tier: "{tier}" }
      labels: { site: "dc-{hostname}" }
      pushgateway:
        - urls: [http://gw1:9091, http://gw2:9091]
          require: any
          bearer-token-file: gw.token
          headers: { X-Scope-OrgID: team }
          timeout: 5s
          retries: 1
          gzip: true
      remote-write:
        - url: https://mimir.example/api/v1/push
          basic-auth: { username: u, password-env: MIMIR_PASSWORD }
          cert-file: client.pem
          key-file: /abs/client.key
          insecure-skip-verify: true
      otlp:
        - url: http://collector:4318/v1/metrics
          headers: { X-Tenant: backups }
          ca-file: ca.pem
          gzip: true
      textfile: textfile/restic-{profile}-{tier}.prom
`,
    );
    const base = join(dir, 'full');
    const { config, warnings } = await loadConfig({ file, env: ENV });
    assert.deepEqual(warnings, []);
    const { profiles, ...top } = config;
    assert.deepEqual(top, {
      stateDir: join(base, 'state'),
      timezone: 'Europe/Berlin',
      hostname: 'nas1',
      resticBinary: '/opt/restic',
      lock: { waitMs: 600_000 },
      daemon: {
        listen: '0.0.0.0:9999',
        runMissed: false,
        gracePeriodMs: 90_000,
        basicAuth: { username: 'ops', password: { file: join(base, 'daemon.pass') } },
      },
      outbox: { maxEntries: 50, maxBytes: 1024 ** 3 },
      logFormat: 'json',
    });
    assert.deepEqual(profiles.s3, {
      repository: 's3:s3.amazonaws.com/bucket',
      password: { command: 'pass show restic' },
      env: { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_DEFAULT_REGION: 'eu-west-1', RETRIES: '3' },
      paths: ['/home', '/etc'],
      exclude: [],
      excludeIfPresent: [],
      excludeFile: [join(base, 'excludes.txt')],
      resticArgs: [],
      inactivityTimeoutMs: 900_000,
      unlockStaleLocks: true,
      forgetAfterBackup: true,
      prune: true,
      check: { schedule: '0 5 * * 0', readDataSubset: '5%' },
      stats: { schedule: '15 * * * *' },
      tiers: {
        hourly: {
          schedule: '0 0 * * * *',
          keepHourly: 24,
          keepWithin: '1y5m',
          isKeepDefault: false,
          maxAgeMs: 3 * 3_600_000,
        },
      },
      metrics: {
        job: '{profile}_backup',
        grouping: { instance: '{hostname}', tier: '{tier}' },
        labels: { site: 'dc-{hostname}' },
        pushgateway: [
          {
            urls: ['http://gw1:9091', 'http://gw2:9091'],
            require: 'any',
            bearerToken: { file: join(base, 'gw.token') },
            headers: { 'X-Scope-OrgID': 'team' },
            timeoutMs: 5000,
            retries: 1,
            gzip: true,
          },
        ],
        remoteWrite: [
          {
            url: 'https://mimir.example/api/v1/push',
            basicAuth: { username: 'u', password: { env: 'MIMIR_PASSWORD' } },
            certFile: join(base, 'client.pem'),
            keyFile: '/abs/client.key',
            insecureSkipVerify: true,
          },
        ],
        otlp: [
          {
            url: 'http://collector:4318/v1/metrics',
            caFile: join(base, 'ca.pem'),
            headers: { 'X-Tenant': 'backups' },
            gzip: true,
          },
        ],
        textfile: join(base, 'textfile/restic-{profile}-{tier}.prom'),
      },
    });
  });

  it('reports every problem of a file at once, each with its line and key path', async () => {
    const { file, problems, message } = await problemsOf(SEVERAL_ERRORS);
    assert.deepEqual(problems, [
      { file, line: 2, path: 'profiles.nfs.paths', message: 'is required' },
      {
        file,
        line: 5,
        path: 'profiles.nfs.exclude-if-presnt',
        message: 'unknown key "exclude-if-presnt"; did you mean "exclude-if-present"?',
      },
      {
        file,
        line: 8,
        path: 'profiles.nfs.tiers.daily.schedule',
        message: 'invalid cron expression "61 1 * * *": Invalid value for minute: 61',
      },
      { file, line: 9, path: 'profiles.nfs.tiers.daily.keep-last', message: 'must be >= 1, got -1' },
      {
        file,
        line: 11,
        path: 'profiles.nfs.metrics.grouping.bad-name',
        message: 'invalid label name "bad-name": use letters, digits and _, not first a digit',
      },
      {
        file,
        line: 12,
        path: 'profiles.nfs.metrics.textfile',
        message:
          '"/var/lib/node_exporter/restic.txt" must end in .prom (node_exporter\'s textfile collector reads only *.prom)',
      },
    ]);
    assert.equal(message.split('\n')[0], `${file}:2: profiles.nfs.paths: is required`);
    assert.equal(message.split('\n').length, 6);
  });

  it('reports cross-key rules: password sources, url/urls, grouping job, placeholders, list items', async () => {
    const { file, problems } = await problemsOf(`profiles:
  a:
    repository: /r
    password-file: /p
    password: inline
    paths: [/x]
    tiers: { daily: { schedule: "0 1 * * * * *" } }
    metrics:
      job: "{host}"
      grouping: { job: x }
      pushgateway: [{ url: http://g:9091, urls: [http://h:9091] }]
      remote-write:
        - url: http://rw/api/v1/write
          basic-auth: { username: u }
          bearer-token-file: /t
`);
    assert.deepEqual(
      problems.map((p) => `${p.line} ${p.path}: ${p.message}`),
      [
        '5 profiles.a.password: password-file and password are both set; keep exactly one',
        '7 profiles.a.tiers.daily.schedule: "0 1 * * * * *" has 7 fields; write 5 (minute hour day month weekday) or 6 with a leading seconds field',
        '9 profiles.a.metrics.job: unknown placeholder {host} in "{host}"; use {tier}, {profile} or {hostname}',
        '10 profiles.a.metrics.grouping.job: job is not a grouping label; set metrics.job instead',
        '11 profiles.a.metrics.pushgateway[0].urls: set url or urls, not both',
        '14 profiles.a.metrics.remote-write[0].basic-auth: set one of password-file, password-env, password',
        '15 profiles.a.metrics.remote-write[0].bearer-token-file: set basic-auth or bearer-token-file, not both',
      ],
    );
    assert.ok(problems.every((p) => p.file === file));
  });

  it('reports a YAML syntax error with its line', async () => {
    const { file, problems } = await problemsOf('profiles:\n  nfs:\n    repository: x\n   paths: [/a]\n');
    assert.deepEqual(problems, [
      {
        file,
        line: 4,
        path: '',
        message: 'YAML syntax error: All mapping items must start at the same column',
      },
    ]);
  });

  it('reports a duplicate key as a YAML error at its line', async () => {
    const { problems } = await problemsOf('profiles: {}\nhostname: a\nhostname: b\n');
    assert.deepEqual(
      problems.map((p) => [p.line, p.message]),
      [[3, 'YAML syntax error: Map keys must be unique']],
    );
  });

  it('interpolates environment variables with and without defaults, typing plain scalars again', async () => {
    const file = write(
      'env.yaml',
      `hostname: \${HOST_NAME}
profiles:
  p:
    repository: "s3:\${BUCKET:-default-bucket}/x"
    password: \${RESTIC_PW}
    paths: ["\${DATA_DIR}/a", "$\${literal}"]
    cpu-limit: \${CPUS}
    unlock-stale-locks: \${UNLOCK:-false}
    tiers: { daily: { schedule: "\${WHEN:-30 1 * * *}" } }
    metrics:
      textfile: \${TEXTFILE:-}
`,
      0o644,
    );
    const env = { ...ENV, HOST_NAME: 'nas2', RESTIC_PW: 's3cr3t', DATA_DIR: '/srv', CPUS: '2', BUCKET: '' };
    const { config, warnings } = await loadConfig({ file, env });
    const p = config.profiles.p;
    assert.equal(config.hostname, 'nas2');
    assert.equal(p?.repository, 's3:default-bucket/x');
    assert.deepEqual(p?.password, { value: 's3cr3t' });
    assert.deepEqual(p?.paths, ['/srv/a', `\${literal}`]);
    assert.equal(p?.cpuLimit, 2);
    assert.equal(p?.unlockStaleLocks, false);
    assert.equal(p?.tiers.daily?.schedule, '30 1 * * *');
    assert.equal(p?.metrics.textfile, null);
    // The password came from the environment: nothing inline, no warning despite mode 0644.
    assert.deepEqual(warnings, []);
  });

  it('reports an unset variable without default, naming its line', async () => {
    const { file, problems } = await problemsOf(
      `profiles:\n  p:\n    repository: /r\n    password: \${NOT_SET_PW}\n    paths: [/a]\n    tiers: { d: { schedule: "0 1 * * *" } }\n`,
    );
    assert.deepEqual(problems, [
      {
        file,
        line: 4,
        path: 'profiles.p.password',
        message: `environment variable NOT_SET_PW is not set (write \${NOT_SET_PW:-default} to give a default)`,
      },
    ]);
  });

  it('warns about an inline password in a file others can read, not in a 0600 file', async () => {
    const text =
      'profiles:\n  p:\n    repository: /r\n    password: hunter2\n    paths: [/a]\n    tiers: { d: { schedule: "0 1 * * *" } }\n';
    const open = write('open.yaml', text, 0o644);
    const { warnings } = await loadConfig({ file: open, env: ENV });
    assert.deepEqual(warnings, [
      `${open} contains a password inline (profiles.p.password) and is readable by others (mode 0644): chmod 600 ${open}`,
    ]);
    assert.ok(!warnings[0]?.includes('hunter2'));
    const closed = write('closed.yaml', text, 0o600);
    assert.deepEqual((await loadConfig({ file: closed, env: ENV })).warnings, []);
  });

  it('warns when tiers share one Pushgateway group', async () => {
    const file = write(
      'shared-group.yaml',
      'profiles:\n  p:\n    repository: /r\n    password-file: /p\n    paths: [/a]\n    tiers: { a: { schedule: "0 1 * * *" }, b: { schedule: "0 2 * * *" } }\n    metrics: { grouping: {}, pushgateway: { url: "http://gw:9091" } }\n',
    );
    assert.deepEqual((await loadConfig({ file, env: ENV })).warnings, [
      'profiles.p.metrics.grouping: no value contains {tier}, so the 2 tiers share one Pushgateway group and each push replaces the other tiers\' values; add e.g. tier: "{tier}"',
    ]);
  });

  it('takes check and stats without a schedule (run by hand only), and leaves them out when absent', async () => {
    const base =
      'profiles:\n  p:\n    repository: /r\n    password-file: /p\n    paths: [/a]\n    tiers: { daily: { schedule: "0 1 * * *" } }\n';
    const bare = await loadConfig({ file: write('no-check.yaml', base), env: ENV });
    assert.equal(bare.config.profiles.p?.check, undefined);
    assert.equal(bare.config.profiles.p?.stats, undefined);
    const empty = await loadConfig({
      file: write('empty-check.yaml', `${base}    check: { read-data-subset: 1/7 }\n    stats: {}\n`),
      env: ENV,
    });
    assert.deepEqual(empty.config.profiles.p?.check, { readDataSubset: '1/7' });
    assert.deepEqual(empty.config.profiles.p?.stats, {});
  });

  it('checks the check and stats schedules like tier schedules, each problem at its line', async () => {
    const { file, problems } = await problemsOf(`profiles:
  nfs:
    repository: /r
    password-file: /p
    paths: [/a]
    check:
      schedule: "0 5 * * 8"
      read-data-subset: 5%
    stats: { schedule: "15 * * *", every: 1h }
    tiers:
      daily: { schedule: "30 1 * * *" }
  web:
    repository: /w
    password-file: /p
    paths: [/b]
    check: { schedule: 7 }
    stats:
      schedule: "0 0 31 2 *"
    tiers:
      daily: { schedule: "30 1 * * *" }
`);
    assert.deepEqual(
      problems.map((p) => `${p.line} ${p.path}: ${p.message}`),
      [
        '7 profiles.nfs.check.schedule: invalid cron expression "0 5 * * 8": Invalid value for dayOfWeek: 8',
        '9 profiles.nfs.stats.schedule: "15 * * *" has 4 fields; write 5 (minute hour day month weekday) or 6 with a leading seconds field',
        '9 profiles.nfs.stats.every: unknown key "every"',
        '16 profiles.web.check.schedule: expected a string, got number 7',
        '18 profiles.web.stats.schedule: "0 0 31 2 *" never runs',
      ],
    );
    assert.ok(problems.every((p) => p.file === file));
  });

  it('refuses a tier named like the scheduled check or stats (their units would clash)', async () => {
    const { problems } = await problemsOf(`profiles:
  nfs:
    repository: /r
    password-file: /p
    paths: [/a]
    check: { schedule: "0 5 * * 0" }
    stats: { read-data: 1 }
    tiers:
      check: { schedule: "30 1 * * *" }
      stats: { schedule: "30 2 * * *" }
`);
    assert.deepEqual(
      problems.map((p) => `${p.line} ${p.path}: ${p.message}`),
      [
        '7 profiles.nfs.stats.read-data: unknown key "read-data"',
        '9 profiles.nfs.tiers.check: tier "check" has the name of the profile\'s scheduled check: both would be resticprom-nfs-check.service and .timer (and one crontab line); rename the tier',
      ],
    );
  });

  it('derives the keep policy from the schedule when a tier sets none', async () => {
    const file = write(
      'keep.yaml',
      `profiles:
  nfs:
    repository: /r
    password-file: /p
    paths: [/a]
    tiers:
      sub-daily: { schedule: "0 */4 * * *" }
      daily: { schedule: "30 1 * * *" }
      weekly: { schedule: "0 3 * * 0" }
      monthly: { schedule: "0 4 1 * *" }
`,
    );
    const { config } = await loadConfig({ file, env: ENV });
    const tiers = config.profiles.nfs?.tiers ?? {};
    assert.deepEqual(
      Object.fromEntries(Object.entries(tiers).map(([k, t]) => [k, [t.keepWithin, t.isKeepDefault]])),
      {
        'sub-daily': ['2d', true],
        daily: ['7d', true],
        weekly: ['1m', true],
        monthly: ['1y', true],
      },
    );
  });

  it('looks for --config, then $RESTICPROM_CONFIG, then ./resticprom.yaml', async () => {
    const cwd = join(dir, 'lookup');
    const local = write('lookup/resticprom.yaml', renderStarterConfig());
    const other = write('lookup/other.yaml', renderStarterConfig());
    assert.equal((await loadConfig({ cwd, env: ENV })).file, local);
    assert.equal((await loadConfig({ cwd, env: { ...ENV, RESTICPROM_CONFIG: 'other.yaml' } })).file, other);
    assert.equal(
      (await loadConfig({ cwd, file: local, env: { ...ENV, RESTICPROM_CONFIG: 'other.yaml' } })).file,
      local,
    );
  });

  it('names the places it looked at when there is no file', async () => {
    const cwd = join(dir, 'empty-dir');
    mkdirSync(cwd, { recursive: true });
    const err = await loadConfig({ cwd, env: ENV }).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(
      err.message,
      `resticprom.yaml: no configuration file found (looked at ${join(cwd, 'resticprom.yaml')}, /etc/resticprom/resticprom.yaml); pass --config FILE, set RESTICPROM_CONFIG, or create one with: resticprom config init`,
    );
    const missing = join(cwd, 'nope.yaml');
    const err2 = await loadConfig({ file: missing, env: ENV }).catch((e: unknown) => e);
    assert.ok(err2 instanceof ConfigError);
    assert.equal(err2.message, `${missing}: the configuration file does not exist`);
  });
});

describe('resolveProfile and profileDestinations', () => {
  function parse(text: string): Config {
    return parseConfigText(text, { file: join(dir, 'x.yaml'), env: ENV }).config;
  }
  const twoProfiles = `state-dir: /var/lib/rp
hostname: nas1
profiles:
  nfs:
    repository: /r
    password-file: /p
    paths: [/a]
    tiers: { daily: { schedule: "30 1 * * *" } }
  home:
    repository: /r2
    password-file: /p
    paths: [/home]
    tiers: { daily: { schedule: "30 1 * * *" } }
    metrics:
      job: "{profile}_backup"
      labels: { site: "{hostname}-x" }
      pushgateway: { url: "https://gw:9091", basic-auth: { username: u, password-env: GW_PW } }
      remote-write: [{ url: "http://rw/api/v1/write", bearer-token-file: /t }]
      otlp: [{ url: "http://otel:4318/v1/metrics", headers: { X-Tenant: t1 } }]
      textfile: /tf/{profile}-{tier}.prom
`;

  it('returns the only profile, or the named one, and refuses unknown or ambiguous names', () => {
    const single = parse(SPEC_EXAMPLE);
    assert.equal(resolveProfile(single)[0], 'nfs');
    const config = parse(twoProfiles);
    assert.equal(resolveProfile(config, 'home')[1].repository, '/r2');
    assert.throws(
      () => resolveProfile(config),
      new UsageError('several profiles are configured (nfs, home); name one with --profile'),
    );
    assert.throws(
      () => resolveProfile(config, 'hom'),
      new UsageError('unknown profile "hom"; did you mean "home"? (configured: nfs, home)'),
    );
  });

  it('expands templates and keeps secrets as references', () => {
    const config = parse(twoProfiles);
    assert.deepEqual(profileDestinations(config, 'home', 'daily'), {
      job: 'home_backup',
      grouping: { instance: 'nas1', profile: 'home', tier: 'daily' },
      labels: { site: 'nas1-x' },
      destinations: [
        {
          kind: 'pushgateway',
          urls: ['https://gw:9091'],
          require: 'all',
          basicAuth: { username: 'u', password: { env: 'GW_PW' } },
        },
        { kind: 'remote-write', url: 'http://rw/api/v1/write', bearerToken: { file: '/t' } },
        { kind: 'otlp', url: 'http://otel:4318/v1/metrics', headers: { 'X-Tenant': 't1' } },
        { kind: 'textfile', path: '/tf/home-daily.prom' },
      ],
      isFallback: false,
    });
    const seed = parse(SPEC_EXAMPLE);
    assert.deepEqual(profileDestinations(seed, 'nfs', 'sub-daily').grouping, { instance: 'sub-daily' });
  });

  it('falls back to a textfile in the state directory when nothing is configured', () => {
    const config = parse(twoProfiles);
    assert.deepEqual(profileDestinations(config, 'nfs', 'daily'), {
      job: 'restic_backup',
      grouping: { instance: 'nas1', profile: 'nfs', tier: 'daily' },
      labels: {},
      destinations: [{ kind: 'textfile', path: '/var/lib/rp/metrics/nfs-daily.prom' }],
      isFallback: true,
    });
    assert.throws(
      () => profileDestinations(config, 'nfs', 'dialy'),
      new UsageError('profile "nfs" has no tier "dialy"; did you mean "daily"? (tiers: daily)'),
    );
  });

  it('loads the starter file with the four tiers of the original script', () => {
    const config = parse(renderStarterConfig());
    const nfs = config.profiles.nfs;
    assert.deepEqual(
      Object.entries(nfs?.tiers ?? {}).map(([name, t]) => [name, t.schedule, t.keepLast]),
      [
        ['sub-daily', '0 */4 * * *', 12],
        ['daily', '30 1 * * *', 7],
        ['weekly', '0 3 * * 0', 5],
        ['monthly', '0 4 1 * *', 12],
      ],
    );
    assert.equal(nfs?.cpuLimit, 1);
    assert.deepEqual(nfs?.excludeIfPresent, ['.nobackup']);
    assert.equal(nfs?.metrics.job, 'nfs_backup');
    assert.deepEqual(nfs?.metrics.grouping, { instance: '{tier}' });
    assert.equal(nfs?.check, undefined, 'check and stats are commented out');
    // Uncommented, the check and stats examples load as written.
    const enabled = parse(renderStarterConfig().replace(/^ {4}# (check|stats): /gm, '    $1: '));
    assert.deepEqual(enabled.profiles.nfs?.check, { schedule: '0 5 * * 0', readDataSubset: '5%' });
    assert.deepEqual(enabled.profiles.nfs?.stats, { schedule: '15 * * * *' });
  });
});
