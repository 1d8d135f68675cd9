#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on the addresses the CRM is configured for.
#   1. already running (127.0.0.1:5432 / :6379 by default): use them;
#   2. installed but not running: start a system cluster if there is one, else a
#      project-local one under var/ (owned by the current user);
#   3. not installed: install them with apt-get when running as root, else say what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
VAR=${CRM_VAR_DIR:-$PWD/var}

say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    die "$1 is not installed. Install it (Debian/Ubuntu: sudo apt-get install $*; macOS: brew install ${1%%-*}) or point DATABASE_URL/REDIS_URL at running servers."
  fi
}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null || python3 -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('$PGHOST', $PGPORT)))"; }
redis_up() { python3 - "$REDIS_HOST" "$REDIS_PORT" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 0.5; done; return 1; }

ensure_postgres() {
  if pg_up; then say "PostgreSQL answers on $PGHOST:$PGPORT"; return; fi
  [ "$PGHOST" = 127.0.0.1 ] || [ "$PGHOST" = localhost ] || die "PostgreSQL at $PGHOST:$PGPORT does not answer."
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    apt_install postgresql postgresql-contrib
  fi
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    say "starting the system PostgreSQL $version cluster"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for pg_up && return
  fi
  bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || command -v initdb)")
  data="$VAR/postgres"
  runas=()
  if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to own a local cluster"; runas=(runuser -u postgres --); fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a project-local PostgreSQL cluster in $data"
    mkdir -p "$data"; [ ${#runas[@]} -gt 0 ] && chown postgres "$data"
    "${runas[@]}" "$bindir/initdb" -D "$data" -A trust -U postgres >/dev/null
  fi
  say "starting the project-local PostgreSQL on $PGPORT"
  "${runas[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $PGPORT -k /tmp -h $PGHOST" start >/dev/null
  wait_for pg_up || die "PostgreSQL did not start; see $data/server.log"
}

ensure_redis() {
  if redis_up; then say "Redis answers on $REDIS_HOST:$REDIS_PORT"; return; fi
  [ "$REDIS_HOST" = 127.0.0.1 ] || [ "$REDIS_HOST" = localhost ] || die "Redis at $REDIS_HOST:$REDIS_PORT does not answer."
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$VAR/redis"
  say "starting a project-local Redis on $REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$VAR/redis" --logfile "$VAR/redis/redis.log" --pidfile "$VAR/redis/redis.pid"
  wait_for redis_up || die "Redis did not start; see $VAR/redis/redis.log"
}

ensure_postgres
ensure_redis
