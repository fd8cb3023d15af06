#!/usr/bin/env bash
# Install, migrate, seed the demo merchant and run web + Celery worker + beat + the fake WeChat server.
# Without DATABASE_URL it runs an embedded PostgreSQL (scripts/embedded_pg.py, data in var/postgres, kept
# between runs); Celery uses a filesystem broker under var/. No external server is needed. Ctrl-C stops
# everything, the embedded PostgreSQL included.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PORT=${PORT:-8000}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt

export DJANGO_SECURE_SSL=${DJANGO_SECURE_SSL:-false}   # the demo is served over plain HTTP on loopback
WECHAT_PORT=${WECHAT_PORT:-8900}
# The demo talks to the fake WeChat server the project ships, never to WeChat itself.
export WECHAT_API_BASE_URL=${WECHAT_API_BASE_URL:-http://127.0.0.1:$WECHAT_PORT/cgi-bin/}
export WECOM_API_BASE_URL=${WECOM_API_BASE_URL:-http://127.0.0.1:$WECHAT_PORT/cgi-bin/}
export WECHAT_MP_BASE_URL=${WECHAT_MP_BASE_URL:-http://127.0.0.1:$WECHAT_PORT/cgi-bin/}   # showqrcode
export WECHAT_OPEN_BASE_URL=${WECHAT_OPEN_BASE_URL:-http://127.0.0.1:$WECHAT_PORT/}       # OAuth authorize
mkdir -p var/broker var/log
export PORT  # seed_demo prints its links on this port

pids=()
embedded_pg=""
cleanup() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$embedded_pg" ]; then .venv/bin/python scripts/embedded_pg.py stop "$embedded_pg" || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
  embedded_pg=var/postgres
  echo "starting the embedded PostgreSQL ($embedded_pg)"
  DATABASE_URL=$(.venv/bin/python scripts/embedded_pg.py start "$embedded_pg" --database retail)
  export DATABASE_URL
fi

.venv/bin/python manage.py compile_translations -v0
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo > var/demo.txt

.venv/bin/python manage.py fake_wechat --port "$WECHAT_PORT" --site "http://127.0.0.1:$PORT" > var/log/fake-wechat.log 2>&1 & pids+=($!)
.venv/bin/celery -A config worker -l info --concurrency 2 > var/log/worker.log 2>&1 & pids+=($!)
.venv/bin/celery -A config beat -l info > var/log/beat.log 2>&1 & pids+=($!)
.venv/bin/gunicorn config.wsgi -b "127.0.0.1:$PORT" -w 3 --access-logfile var/log/access.log > var/log/web.log 2>&1 & pids+=($!)

for _ in $(seq 1 30); do
  .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=2)" 2>/dev/null && break
  sleep 1
done
echo
echo "Retail operations demo is running at http://127.0.0.1:$PORT/"
echo "  database:           ${embedded_pg:+embedded PostgreSQL in $embedded_pg, }$DATABASE_URL"
echo "  fake WeChat API:    $WECHAT_API_BASE_URL (messages sent: ${WECHAT_API_BASE_URL%cgi-bin/}_fake/messages)"
echo "  WeChat phone:       ${WECHAT_API_BASE_URL%cgi-bin/}_fake/phone?openid=oDemoCustomer01 (scan QR codes, open /m/)"
echo
sed -n '/^Demo logins/,$p' var/demo.txt
echo
echo "Logs in var/log/. Press Ctrl-C to stop."
wait
