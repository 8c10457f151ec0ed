/**
 * The file `resticprom config init` writes: commented, loads as written, and
 * reproduces the original backup script's four tiers.
 */

/** The file name editors are pointed at for completion; `resticprom config schema` writes it. */
export const SCHEMA_FILE_NAME = 'resticprom.schema.json';

/** Returns the text of a commented starter configuration (YAML). */
export function renderStarterConfig(): string {
  return `# yaml-language-server: $schema=./${SCHEMA_FILE_NAME}
# resticprom configuration. Editors complete and check this file with its JSON Schema:
#   resticprom config schema > ${SCHEMA_FILE_NAME}
# Check it with: resticprom config validate --config <this file>
# Every key is described in docs/configuration.md. \${VAR} and \${VAR:-default}
# take values from the environment.

# timezone: Europe/Berlin        # schedules' time zone (default: the system's)
# state-dir: /var/lib/resticprom # outbox, run history, locks
# lock: { wait: 0 }              # wait for another run on the same repository (0: fail at once)

profiles:
  nfs:
    repository: /srv/restic-repo            # any restic repository string
    password-file: /etc/resticprom/nfs.pass # or password-command: "pass show restic"
    paths: [/srv/nfs]
    exclude-if-present: [.nobackup]         # skip folders holding this file
    exclude: []
    restic-args: []                         # passed through to restic backup
    cpu-limit: 1                            # GOMAXPROCS=1: restic uses one core
    nice: 10                                # lower CPU/IO priority
    forget-after-backup: false              # true: restic forget --tag <tier> with the keep options
    # Repository health and size, on their own schedules (the daemon and
    # \`resticprom schedule install\` run them; by hand: resticprom check / stats).
    # With timers or cron, set lock.wait so a run that meets a backup waits for it.
    # check: { schedule: "0 5 * * 0", read-data-subset: "5%" }  # Sundays 05:00, reads 5% of the data
    # stats: { schedule: "15 * * * *" }                         # hourly: size, snapshots per tier
    tiers:                                  # the tier is the snapshot's tag
      sub-daily: { schedule: "0 */4 * * *", keep-last: 12 }  # every 4 hours, kept two days
      daily:     { schedule: "30 1 * * *",  keep-last: 7 }   # kept seven days
      weekly:    { schedule: "0 3 * * 0",   keep-last: 5 }   # kept a month
      monthly:   { schedule: "0 4 1 * *",   keep-last: 12 }  # kept twelve months
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }      # {tier}, {profile}, {hostname} expand
      # With no destination, metrics go to <state-dir>/metrics/<profile>-<tier>.prom
      # and are printed. Uncomment one or more:
      # pushgateway:
      #   url: https://my-gtw:443
      #   basic-auth: { username: backup, password-file: /etc/resticprom/gw.pass }
      # remote-write:
      #   - url: https://prometheus.example/api/v1/write
      #     bearer-token-file: /etc/resticprom/rw.token
      # otlp:
      #   - url: http://otel-collector:4318/v1/metrics
      # textfile: /var/lib/node_exporter/textfile_collector/restic-{profile}-{tier}.prom
`;
}
