import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from apps.core.models import Heartbeat
from apps.core.tasks import heartbeat_task

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_db_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["db"] == "ok" and body["broker"] == "ok"


def test_healthz_is_503_naming_the_broker_when_it_is_down(client):
    from config.celery import app

    # The write URL (what healthz connects with): Celery lets a CELERY_BROKER_URL in the environment, as
    # scripts/test.sh sets it, win over app.conf.broker_url.
    original = app.conf.broker_write_url
    app.conf.broker_write_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_write_url = original
    assert response.status_code == 503
    assert response.json()["db"] == "ok"
    assert response.json()["broker"].startswith("down")


def test_heartbeat_task_is_scheduled_in_the_database_and_shows_in_healthz(client):
    task = PeriodicTask.objects.get(task="core.heartbeat")
    assert task.enabled and task.interval.every == 1 and task.interval.period == "minutes"
    assert client.get("/healthz").json()["beat"]["status"] == "never"

    heartbeat_task.apply()
    heartbeat_task.apply()

    beat = Heartbeat.objects.get(name="beat")
    assert beat.beats == 2
    assert client.get("/healthz").json()["beat"]["status"] == "ok"


@override_settings(HEARTBEAT_STALE_SECONDS=-1)
def test_an_old_heartbeat_is_reported_stale(client):
    heartbeat_task.apply()
    assert client.get("/healthz").json()["beat"]["status"] == "stale"


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL": "true",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "retail.example.com",
    }
    env.pop("PYTEST_VERSION", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only, never in production
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
