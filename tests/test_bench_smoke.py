"""Every benchmark script runs end to end at its smoke size (the figures are not asserted here)."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "harness.py")


def _smoke_database() -> str:
    # A database of its own beside the test database, so parallel test runs never share one.
    return f"{settings.DATABASES['default']['NAME']}_bench_smoke"


@pytest.fixture(scope="module", autouse=True)
def fresh_smoke_database():
    """Start from no database: one left by an earlier run may hold migrations as they were then."""
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(_smoke_database())))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_bench_script_runs_at_smoke_size(script):
    env = {**os.environ, "BENCH_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{_smoke_database()}"}
    env.pop("PYTEST_VERSION", None)
    result = subprocess.run(
        [sys.executable, str(script), "--scale", "smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "==" in result.stdout  # printed its figures table
