#!/bin/bash
# The seed's backup script (see /work/shared/seed: "Backing-up with Restic"), rebuilt as the
# reference for bench/overhead.ts and bench/scale.ts. Same steps as the original:
#   date before and after restic, restic's whole --json output saved to output.txt, eight
#   `jq -r 'select(.message_type=="summary") | .X'` passes over it, nine gauges written as the
#   text prometheus.bash's ExportAsText produces (# TYPE, # HELP, sample), one curl POST
#   (io::prometheus::PushAdd) to <gateway>/metrics/job/nfs_backup/instance/<tier>.
# Differences from the original, none of which changes the work done: restic is $RESTIC
# (the bench points it at the fake restic), the working folder is $WORKDIR, the gateway is
# plain http on loopback, and the prometheus.bash functions are inlined as printf.
#
# Usage: RESTIC=/path/to/restic GATEWAY=http://127.0.0.1:9091 WORKDIR=/tmp/x seed-backup.sh <tier>
set -u
tier="$1"
cd "${WORKDIR:?}"

start=$(date +%s)
# we limit the CPU usage to one core
GOMAXPROCS=1 "${RESTIC:?}" --exclude-if-present '.nobackup' -r "${REPO:-/srv/restic-repo}" backup --json --tag "$tier" "${DATA:-/srv/nfs}" >output.txt
end=$(date +%s)
runtime=$((end - start))

files=$(cat output.txt | jq -r 'select(.message_type=="summary") | .total_files_processed')
bytes=$(cat output.txt | jq -r 'select(.message_type=="summary") | .total_bytes_processed')
files_new=$(cat output.txt | jq -r 'select(.message_type=="summary") | .files_new')
files_changed=$(cat output.txt | jq -r 'select(.message_type=="summary") | .files_changed')
files_unchanged=$(cat output.txt | jq -r 'select(.message_type=="summary") | .files_unmodified')
dirs_new=$(cat output.txt | jq -r 'select(.message_type=="summary") | .dirs_new')
dirs_changed=$(cat output.txt | jq -r 'select(.message_type=="summary") | .dirs_changed')
dirs_unchanged=$(cat output.txt | jq -r 'select(.message_type=="summary") | .dirs_unmodified')

# io::prometheus::NewGauge + set, then ExportAsText: "# TYPE", "# HELP", "name value" per gauge.
gauge() { printf '# TYPE %s gauge\n# HELP %s %s\n%s %s\n' "$1" "$1" "$2" "$1" "$3"; }
{
  gauge restic_backup_time 'How long the backup took' "$runtime"
  gauge restic_backup_processed_files 'How many files where processed' "$files"
  gauge restic_backup_processed_bytes 'How many bytes where processed' "$bytes"
  gauge restic_backup_files_new 'How many new files were backed-up' "$files_new"
  gauge restic_backup_files_changed 'How many files were changed' "$files_changed"
  gauge restic_backup_files_unchanged 'How many files did not change' "$files_unchanged"
  gauge restic_backup_dirs_new 'How many new dirs were backed-up' "$dirs_new"
  gauge restic_backup_dirs_changed 'How many dirs were changed' "$dirs_changed"
  gauge restic_backup_dirs_unchanged 'How many dirs did not change' "$dirs_unchanged"
} | curl -s --fail --data-binary @- -X POST "${GATEWAY:?}/metrics/job/nfs_backup/instance/${tier}"
