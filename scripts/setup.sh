#!/usr/bin/env bash
# Sets up resticprom on a Debian/Ubuntu machine: the Debian packages the tool
# and its tests use (when missing), then the npm dependencies and the build.
#
# `bash scripts/setup.sh --check-node` only checks the installed Node.js (exit 1 when it is
# missing or older than 20, saying how to get a newer one).
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js 20 is the oldest resticprom runs on (package.json's engines); Debian 12 ships 18.
check_node() {
  local version major
  version="$(node --version 2>/dev/null || true)"
  major="${version#v}"
  major="${major%%.*}"
  if [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 20 ]; then
    return 0
  fi
  if [ -z "$version" ]; then
    echo "setup: Node.js is not installed; resticprom needs Node.js 20 or newer." >&2
  else
    echo "setup: Node.js $version is too old; resticprom needs Node.js 20 or newer." >&2
  fi
  echo "setup: Debian 12 ships Node.js 18. Install a newer one, then run this again:" >&2
  echo "setup:   - NodeSource's Debian packages of Node.js 20 or 22 (their setup_22.x script adds the apt source), or" >&2
  echo "setup:   - Debian 13 (trixie), whose own nodejs package is Node.js 20: apt-get install nodejs there." >&2
  return 1
}

if [ "${1:-}" = "--check-node" ]; then
  check_node
  exit
fi
check_node || exit 1

# command -> Debian package
declare -A wanted=(
  [restic]=restic
  [prometheus-pushgateway]=prometheus-pushgateway
  [prometheus]=prometheus
  [promtool]=prometheus
  [amtool]=prometheus-alertmanager
  [chromium]=chromium
  [openssl]=openssl
  [jq]=jq
  [tmux]=tmux
  [curl]=curl
  [systemd-analyze]=systemd
  [victoria-metrics]=victoria-metrics
  [prometheus-node-exporter]=prometheus-node-exporter
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "setup: cannot install ${missing[*]}: run this script as root, or give this user sudo," >&2
    echo "setup: or install them yourself: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Debian packages start their own services where systemd runs; resticprom
# starts its own instances on free ports, so those are left alone.
npm ci --no-audit --no-fund
npm run build
echo "setup: done. Try: npm run demo"
