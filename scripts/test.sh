#!/usr/bin/env bash
# Install everything and run the whole test suite on PostgreSQL.
#
# PostgreSQL: the server at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/retail; pytest
# creates test_<name>) when it answers; a local cluster that is installed but stopped is started first.
# Otherwise an embedded PostgreSQL (scripts/embedded_pg.py, data in var/postgres-test) runs for this run.
# Redis (REDIS_URL, default redis://127.0.0.1:6379/0) is the Celery broker of the tests when it answers (started
# if installed but stopped); otherwise the broker tests run on Celery's filesystem transport, which needs no
# server. Chromium for the browser tests: Debian's, installed through apt when run as root; without it the
# browser tests are skipped, loudly. Under CI=true nothing falls back: a missing PostgreSQL, Redis or Chromium
# fails the run.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/stores -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

CI=${CI:-false}
TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/retail}
export DATABASE_URL=$TEST_DATABASE_URL
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

embedded_pg=""
cleanup() { if [ -n "$embedded_pg" ]; then .venv/bin/python scripts/embedded_pg.py stop "$embedded_pg" || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Whether the server of TEST_DATABASE_URL answers (its maintenance database, so a missing test database is fine).
pg_ready() {
  .venv/bin/python - "$TEST_DATABASE_URL" 2>/dev/null <<'EOF'
import sys

import psycopg
from psycopg.conninfo import make_conninfo

url = sys.argv[1].replace("postgres://", "postgresql://", 1)
psycopg.connect(make_conninfo(url, dbname="postgres", connect_timeout=3)).close()
EOF
}
pg_is_local_default() { [[ "$TEST_DATABASE_URL" =~ @(127\.0\.0\.1|localhost)(:5432)?/ ]]; }

if ! pg_ready && pg_is_local_default && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
if ! pg_ready; then
  if [ "$CI" = true ]; then
    echo "ERROR: PostgreSQL is not reachable at $TEST_DATABASE_URL; under CI the tests need it." >&2
    exit 1
  fi
  embedded_pg=var/postgres-test
  echo "PostgreSQL is not reachable at $TEST_DATABASE_URL: running an embedded PostgreSQL ($embedded_pg) for the tests"
  mkdir -p var
  DATABASE_URL=$(.venv/bin/python scripts/embedded_pg.py start "$embedded_pg" --database retail)
  export DATABASE_URL
fi

redis_ready() { .venv/bin/python -c "import redis; redis.Redis.from_url('$REDIS_URL', socket_timeout=2).ping()" 2>/dev/null; }
if ! redis_ready && command -v redis-server >/dev/null 2>&1 && [[ "$REDIS_URL" =~ //(127\.0\.0\.1|localhost):6379 ]]; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
fi
if redis_ready; then
  export CELERY_BROKER_URL=${CELERY_BROKER_URL:-$REDIS_URL}
elif [ "$CI" = true ]; then
  echo "ERROR: Redis is not reachable at $REDIS_URL; under CI the broker tests need it." >&2
  exit 1
else
  echo "Redis is not reachable at $REDIS_URL: the broker tests run on Celery's filesystem transport (no server)"
  export CELERY_BROKER_URL=filesystem://
fi
mkdir -p var/broker/control  # the filesystem transport's folders

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || true
fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$CI" = true ]; then
    echo "ERROR: Chromium is missing (${CHROMIUM_PATH:-/usr/bin/chromium}); under CI the browser tests need it." >&2
    exit 1
  fi
  echo "WARNING: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}: the browser tests are SKIPPED in this run"
  export BROWSER_TESTS=skip
fi

.venv/bin/python manage.py compile_translations
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy apps
.venv/bin/python manage.py check
.venv/bin/python manage.py makemigrations --check --dry-run
.venv/bin/python -m pytest "$@"
