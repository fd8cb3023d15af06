"""The README's first command on PostgreSQL: migrate a new database and seed the demo the way scripts/demo.sh
does (a separate process, its own database), and the first screens are full."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_database_url():
    """A new, empty database on the test server (a TCP one or the embedded one's socket), dropped afterwards."""
    settings = connection.settings_dict
    name = f"{settings['NAME']}_demo"
    host = settings["HOST"] or settings["OPTIONS"].get("host", "")
    admin_params = {"host": host, "port": settings["PORT"] or 5432, "user": settings["USER"], "dbname": "postgres"}
    with psycopg.connect(**admin_params, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if host.startswith("/"):
        yield f"postgres://{settings['USER']}@/{name}?host={host}"
    else:
        yield f"postgres://{settings['USER']}@{host}:{admin_params['port']}/{name}"
    with psycopg.connect(**admin_params, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.slow
def test_migrate_and_seed_demo_fill_the_first_screens(demo_database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "CACHE_URL"}}
    env.update(
        DATABASE_URL=demo_database_url,
        VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL="filesystem://",
        DJANGO_SECURE_SSL="false",
        LOG_LEVEL="WARNING",
        PORT="8123",
    )

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput", "-v0")
    out = manage("seed_demo")

    assert "clerk / " in out and "historic orders" in out
    assert "http://127.0.0.1:8123/admin/insights/kpimonth/" in out  # the links use the demo's real port
    assert "http://127.0.0.1:8123/store/" in out and "http://127.0.0.1:8000" not in out
    counts = manage(
        "shell",
        "-c",
        "from apps.insights.models import KpiMonth, MemberProfile, Segment;"
        "from apps.insights.selectors import segment_members;"
        "print(KpiMonth.objects.count(), MemberProfile.objects.count(),"
        " segment_members(segment=Segment.objects.get(code='gold-or-vip')).count())",
    )
    kpi_months, profiles, or_segment = (int(n) for n in counts.strip().splitlines()[-1].split())
    assert kpi_months > 0 and profiles > 1000 and or_segment > 0
