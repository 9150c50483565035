#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine with Node 20: installs what OpenRMS needs, starts the
# services its tests use, then runs the root cluster (start) or the whole test suite (test).
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
APT_PACKAGES=(xmlsec1 python3-zeep libxml2-utils sqlite3 haproxy postgresql redis-server chromium
  slapd ldap-utils krb5-kdc krb5-admin-server krb5-user libkrb5-dev python3-gssapi samba samba-ad-dc samba-ad-provision winbind curl systemd softhsm2)

log() { printf '[dev] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_node_deps() {
  if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
    log "installing pnpm $PNPM_VERSION"
    as_root npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1
  fi
  log "pnpm install --frozen-lockfile"
  pnpm install --frozen-lockfile --reporter=silent
}

start_services() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    log "starting PostgreSQL"
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  # Tests connect as postgres over TCP with trust auth, the way machines of this kind are set up.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    log "PostgreSQL does not accept user postgres on 127.0.0.1 without a password; see docs/operations.md"
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
  fi
}

setup() {
  install_apt
  install_node_deps
}

# The release build: every app bundled to apps/<app>/dist, run with plain node (docs/adr/0006).
build() {
  log "pnpm build"
  TURBO_TELEMETRY_DISABLED=1 pnpm build --output-logs=errors-only
}

case "${1:-}" in
  setup) setup ;;
  build) setup; build ;;
  # The process this leaves running is the server itself (signals reach it directly).
  start) setup; build; exec node apps/server/dist/start-embedded.js ;;
  test) setup; build; start_services; exec pnpm test:all ;;
  *) echo "usage: scripts/dev.sh start|test|setup|build" >&2; exit 2 ;;
esac
