#!/usr/bin/env bash
# Install everything and run the whole test suite on PostgreSQL.
# Starts PostgreSQL and Redis when they are installed but not running, installs Chromium for the
# browser tests when it is missing (as root, through apt), and fails, never skips, without PostgreSQL.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/stores -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/retail}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

pg_ready() {
  .venv/bin/python -c "import psycopg,sys; psycopg.connect('postgresql://postgres@127.0.0.1:5432/postgres', connect_timeout=3).close()" 2>/dev/null
}
if ! pg_ready && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
if ! pg_ready; then
  echo "ERROR: PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres); the tests need it." >&2
  exit 1
fi

redis_ready() { .venv/bin/python -c "import redis; redis.Redis.from_url('$REDIS_URL', socket_timeout=2).ping()" 2>/dev/null; }
if ! redis_ready && command -v redis-server >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
fi
if ! redis_ready; then
  echo "ERROR: Redis is not reachable at $REDIS_URL; the broker tests need it." >&2
  exit 1
fi

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi

.venv/bin/python manage.py compile_translations
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy apps
.venv/bin/python manage.py check
.venv/bin/python manage.py makemigrations --check --dry-run
.venv/bin/python -m pytest "$@"
