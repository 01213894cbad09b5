#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers for APIQ on this machine.
#
#   deploy/local-postgres.sh ensure [-q]   start one if none answers (installing
#                                          the Debian package only when no
#                                          initdb exists); -q: quiet when one
#                                          already answers
#   deploy/local-postgres.sh roles         create the owner and service roles and
#                                          the database that `make run` uses
#
# Settings (environment):
#   APIQ_PG_ADMIN_URL  superuser URL checked and used for setup
#                      (default postgres://postgres@127.0.0.1:5432/postgres)
#   APIQ_PG_DIR        where a private cluster lives (default /var/lib/apiq-postgres
#                      as root, ./.apiq/postgres otherwise)
#   APIQ_PG_OWNER, APIQ_PG_SERVICE, APIQ_PG_DATABASE
#                      role and database names for `roles` (apiq_owner, apiq_app, apiq)
#
# The private cluster listens on 127.0.0.1 only, with trust authentication:
# it is for development and tests on this machine, never for production.
# Idempotent: running it again changes nothing once a server answers.
set -euo pipefail

ADMIN_URL="${APIQ_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
OWNER="${APIQ_PG_OWNER:-apiq_owner}"
SERVICE="${APIQ_PG_SERVICE:-apiq_app}"
DATABASE="${APIQ_PG_DATABASE:-apiq}"

# host and port from the admin URL (postgres://user@host:port/db?...)
hostport="${ADMIN_URL#*://}"
hostport="${hostport#*@}"
hostport="${hostport%%/*}"
HOST="${hostport%%:*}"
PORT="5432"
if [[ "$hostport" == *:* ]]; then PORT="${hostport##*:}"; fi

if [[ "$(id -u)" == 0 ]]; then
  PG_DIR="${APIQ_PG_DIR:-/var/lib/apiq-postgres}"
else
  PG_DIR="${APIQ_PG_DIR:-$PWD/.apiq/postgres}"
fi
DATA="$PG_DIR/data"
SOCKETS="$PG_DIR/run"
LOG="$PG_DIR/postgres.log"

say() { echo "local-postgres: $*" >&2; }

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PORT" -t 2
  else
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
  fi
}

find_bindir() {
  local initdb
  initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  [[ -n "$initdb" ]] && dirname "$initdb"
}

# as_pg runs a command as the postgres user when we are root (initdb refuses
# to run as root), as ourselves otherwise.
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install_server() {
  if [[ "$(id -u)" != 0 ]]; then
    say "no PostgreSQL server binaries found and not root: install the 'postgresql' package, then run me again"
    exit 1
  fi
  say "installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

start_private_cluster() {
  local bindir="$1"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PG_DIR" --shell /usr/sbin/nologin postgres
    mkdir -p "$PG_DIR"
    chown postgres: "$PG_DIR"
    # The postgres user must reach the directory.
    chmod 0755 "$PG_DIR"
  else
    mkdir -p "$PG_DIR"
  fi
  as_pg mkdir -p "$SOCKETS"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    say "creating a private cluster in $DATA"
    as_pg "$bindir/initdb" -D "$DATA" --username=postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "the cluster in $DATA runs but does not answer on $HOST:$PORT; check $LOG"
    exit 1
  fi
  say "starting PostgreSQL on $HOST:$PORT (log: $LOG)"
  as_pg touch "$LOG"
  as_pg "$bindir/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-c listen_addresses=$HOST -p $PORT -k $SOCKETS" start >/dev/null
}

ensure() {
  local quiet="${1:-}"
  if answers; then
    [[ "$quiet" == "-q" ]] || say "PostgreSQL answers on $HOST:$PORT"
    return 0
  fi
  if [[ "$HOST" != "127.0.0.1" && "$HOST" != "localhost" ]]; then
    say "no PostgreSQL answers on $HOST:$PORT, and I only start servers on 127.0.0.1"
    exit 1
  fi
  # A Debian cluster that is merely stopped is started as it is.
  if [[ "$(id -u)" == 0 && "$PORT" == 5432 ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    for version in $(ls /etc/postgresql 2>/dev/null | sort -V); do
      if [[ -f "/etc/postgresql/$version/main/postgresql.conf" ]]; then
        say "starting the Debian cluster $version/main"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
        for _ in $(seq 1 25); do
          if answers; then
            say "PostgreSQL answers on $HOST:$PORT"
            return 0
          fi
          sleep 0.2
        done
      fi
    done
  fi
  local bindir
  bindir="$(find_bindir || true)"
  if [[ -z "$bindir" ]]; then
    install_server
    # The package may have started its own cluster on the default port.
    if answers; then
      say "PostgreSQL answers on $HOST:$PORT"
      return 0
    fi
    bindir="$(find_bindir)"
  fi
  start_private_cluster "$bindir"
  for _ in $(seq 1 50); do
    if answers; then
      say "PostgreSQL answers on $HOST:$PORT"
      return 0
    fi
    sleep 0.2
  done
  say "PostgreSQL did not come up; see $LOG"
  exit 1
}

psql_admin() {
  psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 "$@"
}

roles() {
  ensure -q
  # Idempotent: roles and database are created only when missing.
  psql_admin -v owner="$OWNER" -v service="$SERVICE" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'service')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'service') \gexec
SQL
  psql_admin -v owner="$OWNER" -v db="$DATABASE" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
  local current_owner
  current_owner="$(psql "$ADMIN_URL" -X -At -v ON_ERROR_STOP=1 -v db="$DATABASE" <<'SQL'
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db'
SQL
)"
  if [[ "$current_owner" != "$OWNER" ]]; then
    say "database $DATABASE exists but belongs to $current_owner, not $OWNER; drop it or set APIQ_PG_DATABASE"
    exit 1
  fi
}

case "${1:-ensure}" in
  ensure) ensure "${2:-}" ;;
  roles) roles ;;
  *) echo "usage: $0 ensure [-q] | roles" >&2; exit 2 ;;
esac
