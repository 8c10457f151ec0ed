/**
 * The systemd units in deploy/systemd/ as they are shipped:
 * - their sandbox and exit statuses are the ones `schedule install` generates (one source);
 * - their credential setup works end to end: the backup unit queues metrics for a gateway
 *   with basic auth that is down, systemd drops the backup's credentials folder when the
 *   unit ends, and the flush unit, with its own credentials folder, delivers them. Each unit
 *   is run as systemd would: its ExecStart's arguments, its Environment=, and a
 *   $CREDENTIALS_DIRECTORY holding a copy of each LoadCredential= file (no systemd here).
 *   This failed while flush used the credential path the backup unit had stored.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SERVICE_HARDENING, successExitStatus } from '../../src/schedule/systemd.js';
import { ensureBuilt, ROOT, runCli } from '../helpers/cli.js';
import { makeRepo } from '../helpers/restic.js';
import {
  bcryptHash,
  freePort,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const UNITS = join(ROOT, 'deploy', 'systemd');
const GATEWAY_PASSWORD = 'gw-Shipped-5521';

/** The [Service] directives of a unit file, comments and blank lines left out. */
function serviceDirectives(file: string): string[] {
  const lines = readFileSync(join(UNITS, file), 'utf8').split('\n');
  const start = lines.indexOf('[Service]');
  const end = lines.findIndex((l, i) => i > start && l.startsWith('['));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l !== '' && !l.startsWith('#'));
}

function values(directives: string[], key: string): string[] {
  return directives.filter((d) => d.startsWith(`${key}=`)).map((d) => d.slice(key.length + 1));
}

describe('the shipped systemd units', () => {
  it('have the sandbox and exit statuses schedule install generates', () => {
    for (const [file, job] of [
      ['resticprom-backup@.service', 'backup'],
      ['resticprom-flush.service', 'flush'],
    ] as const) {
      const d = serviceDirectives(file);
      const keys = new Set(SERVICE_HARDENING.map((h) => h.split('=')[0]));
      assert.deepEqual(
        d.filter((l) => keys.has(l.split('=')[0] ?? '')),
        [...SERVICE_HARDENING],
        file,
      );
      assert.deepEqual(
        d.filter((l) => l.startsWith('SuccessExitStatus=')),
        [successExitStatus(job)],
        file,
      );
    }
  });

  describe('credentials: the flush unit delivers what the backup unit queued, with its own', () => {
    let dir: string;
    let gateway: RunningService | undefined;
    let port: number;
    let cleanup: () => void = () => {};

    before(async () => {
      await ensureBuilt();
      const t = makeTempDir('resticprom-shipped-');
      dir = t.dir;
      cleanup = t.cleanup;
      port = await freePort();
    });
    after(async () => {
      await gateway?.stop();
      cleanup();
    });

    /** Runs a shipped unit's ExecStart the way systemd would, with `credentials` as its folder. */
    async function runUnit(file: string, instance: string, credentials: string) {
      const d = serviceDirectives(file);
      const subst = (s: string) => s.replaceAll('%i', instance).replaceAll('%S', dir).replaceAll('%C', dir);
      // LoadCredential=name:/etc/resticprom/x: systemd copies x into the unit's own folder.
      mkdirSync(credentials, { recursive: true, mode: 0o700 });
      for (const c of values(d, 'LoadCredential')) {
        const [name, source] = c.split(':') as [string, string];
        copyFileSync(join(dir, 'etc', basename(source)), join(credentials, name));
      }
      const env: NodeJS.ProcessEnv = { CREDENTIALS_DIRECTORY: credentials, HOME: dir };
      for (const e of values(d, 'Environment')) {
        const [k, v] = subst(e).split('=') as [string, string];
        env[k] = v;
      }
      assert.equal(env.RESTICPROM_STATE_DIR, join(dir, 'resticprom'));
      const [exec, ...args] = subst(values(d, 'ExecStart')[0] ?? '').split(' ');
      assert.equal(exec, '/usr/local/bin/resticprom');
      const argv = args.map((a) =>
        a === '/etc/resticprom/resticprom.yaml' ? join(dir, 'resticprom.yaml') : a,
      );
      return runCli(argv, { env });
    }

    it('backup exits 75 (queued, the gateway is down), flush exits 0 and the gateway has the run', async () => {
      mkdirSync(join(dir, 'r'));
      const repo = makeRepo(join(dir, 'r'), 'pw-shipped-77');
      mkdirSync(join(dir, 'etc'));
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src', 'file.txt'), 'data\n');
      copyFileSync(repo.passwordFile, join(dir, 'etc', 'nfs.pass'));
      writeFileSync(join(dir, 'etc', 'gw.pass'), `${GATEWAY_PASSWORD}\n`, { mode: 0o600 });
      // The config docs/deployment.md describes for the shipped units.
      writeFileSync(
        join(dir, 'resticprom.yaml'),
        `timezone: UTC
profiles:
  nfs:
    repository: ${repo.repository}
    password-file: \${CREDENTIALS_DIRECTORY}/restic-password
    paths: [${join(dir, 'src')}]
    tiers:
      daily: { schedule: "30 1 * * *" }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }
      pushgateway:
        url: http://127.0.0.1:${port}
        retries: 0
        basic-auth:
          username: backup
          password-file: \${CREDENTIALS_DIRECTORY}/gateway-password
`,
        { mode: 0o600 },
      );
      const backupCreds = join(dir, 'credentials', 'resticprom-backup@daily.service');
      const backup = await runUnit('resticprom-backup@.service', 'daily', backupCreds);
      assert.equal(backup.code, 75, backup.stderr);
      // systemd removes a unit's credentials when it stops.
      rmSync(backupCreds, { recursive: true, force: true });

      const web = join(dir, 'web.yml');
      writeFileSync(web, `basic_auth_users:\n  backup: ${bcryptHash(GATEWAY_PASSWORD)}\n`);
      gateway = await startPushgateway({ port, webConfigFile: web, skipReady: true });
      const flush = await runUnit(
        'resticprom-flush.service',
        '',
        join(dir, 'credentials', 'resticprom-flush.service'),
      );
      assert.equal(flush.code, 0, `${flush.stdout}\n${flush.stderr}`);
      assert.match(flush.stdout, /flush: 1 delivered, 0 pending, 0 dead-lettered/);
      const auth = `Basic ${Buffer.from(`backup:${GATEWAY_PASSWORD}`).toString('base64')}`;
      const metrics = await (
        await fetch(`${gateway.url}/metrics`, { headers: { authorization: auth } })
      ).text();
      assert.match(metrics, /\nrestic_backup_status\{[^}]*instance="daily"[^}]*job="nfs_backup"[^}]*\} 2\n/);
    });
  });
});
