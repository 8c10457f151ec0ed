/**
 * Configuration texts shared by the config tests.
 */

/** The example file of the specification, verbatim: it must load as written. */
export const SPEC_EXAMPLE = `profiles:
  nfs:
    repository: /srv/restic-repo            # any restic repository string
    password-file: /etc/resticprom/nfs.pass # or password-command, or \${ENV} interpolation
    paths: [/srv/nfs]
    exclude-if-present: [.nobackup]
    exclude: []
    restic-args: []                         # passed through to restic backup
    cpu-limit: 1                            # restic runs with GOMAXPROCS=1, as in the seed
    nice: 10                                # optional CPU/IO priority
    tiers:                                  # the seed's tags
      sub-daily: { schedule: "0 */4 * * *", keep-last: 12 }
      daily:     { schedule: "30 1 * * *",  keep-last: 7 }
      weekly:    { schedule: "0 3 * * 0",   keep-last: 5 }
      monthly:   { schedule: "0 4 1 * *",   keep-last: 12 }
    metrics:
      job: nfs_backup
      grouping: { instance: "{tier}" }      # the seed's grouping; {tier}, {profile}, {hostname} expand
      pushgateway:
        url: https://my-gtw:443
        ca-file: /etc/resticprom/ca.pem
        basic-auth: { username: backup, password-file: /etc/resticprom/gw.pass }
      remote-write: []                      # list of { url, basic-auth | bearer-token-file }
      textfile: null                        # or a path ending in .prom
`;

/** A file with six problems, one per line noted in the test. */
export const SEVERAL_ERRORS = `profiles:
  nfs:
    repository: /srv/restic-repo
    password-file: /etc/resticprom/nfs.pass
    exclude-if-presnt: [.nobackup]
    tiers:
      daily:
        schedule: "61 1 * * *"
        keep-last: -1
    metrics:
      grouping: { instance: "{tier}", bad-name: x }
      textfile: /var/lib/node_exporter/restic.txt
`;
