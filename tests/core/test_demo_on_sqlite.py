"""The demo command runs on the embedded defaults: an SQLite file, no database server.

Every other test runs on PostgreSQL; this one guards the README's first command, whose seed_demo must
work on SQLite too (set-based PostgreSQL paths need a portable twin).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_migrate_and_seed_demo_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "CACHE_URL"}}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL="filesystem://",
        DJANGO_SECURE_SSL="false",
        LOG_LEVEL="WARNING",
    )

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput", "-v0")
    out = manage("seed_demo")

    assert "Demo logins" in out
    assert "clerk / " in out
    assert "historic orders" in out
