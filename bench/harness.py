"""Shared plumbing for the benchmark scripts in bench/.

A bench script imports this module first (it points Django at a benchmark database, creates and
migrates it), generates realistic data, times the system's own code paths and a raw-SQL or COPY
baseline on the same data in the same run, and prints a figures table with each target.

    python bench/<name>.py --scale full      # the sizes the issues name
    python bench/<name>.py --scale smoke     # tiny sizes; what CI runs (tests/test_bench_smoke.py)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", choices=["smoke", "full"], default="smoke")
    if extra:
        extra(parser)
    return parser.parse_args()


def setup_django(database: str = "retail_bench") -> None:
    """Point Django at a PostgreSQL benchmark database (BENCH_DATABASE_URL overrides), create and migrate it."""
    import psycopg

    url = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECURE_SSL", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("PYTEST_VERSION", None)
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    # Benchmarks render admin pages without running collectstatic: serve static names unhashed.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)


def truncate(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows into an existing table; the raw baseline the issues compare against."""
    from django.db import connection

    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def vacuum_analyze(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


@contextmanager
def timer() -> Iterable[Callable[[], float]]:
    start = time.perf_counter()
    elapsed: list[float] = []
    yield lambda: elapsed[0] if elapsed else time.perf_counter() - start
    elapsed.append(time.perf_counter() - start)


def latency_ms(call: Callable[[int], object], n: int, warmup: int = 20) -> tuple[float, float]:
    """Median and p95 in milliseconds of ``call(i)`` over ``n`` calls."""
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


@dataclass
class Report:
    title: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def figure(self, name: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        if ok is False:
            self.failed.append(name)
        self.rows.append((name, f"{value:,.2f} {unit}", target, verdict))

    def print(self) -> None:
        print(f"\n== {self.title} ==")
        widths = [max(len(r[i]) for r in [("figure", "value", "target", ""), *self.rows]) for i in range(4)]
        for row in [("figure", "value", "target", ""), *self.rows]:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if self.failed:
            print(f"targets missed: {', '.join(self.failed)}")
