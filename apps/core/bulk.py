"""Set-based writes shared by importers and bulk services.

Rows go into a temporary staging table (``COPY`` on PostgreSQL, ``executemany`` on the SQLite demo)
and reach the target table in two statements, so a million rows cost two queries, not a million.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int
    unchanged: int


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model: type[models.Model], attname: str) -> tuple[str, str]:
    field = next(f for f in model._meta.concrete_fields if f.attname == attname)
    return field.column, field.db_type(connection) or "text"


def load_staging(table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> int:
    """Create temporary table ``table`` with (name, sql type) columns and load ``rows`` into it."""
    col_sql = ", ".join(f"{_qn(name)} {sql_type}" for name, sql_type in columns)
    names = ", ".join(_qn(name) for name, _ in columns)
    count = 0
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_qn(table)}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TEMPORARY TABLE {_qn(table)} ({col_sql}) ON COMMIT DROP")
            with cursor.cursor.copy(f"COPY {_qn(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            cursor.execute(f"CREATE TEMPORARY TABLE {_qn(table)} ({col_sql})")
            marks = ", ".join(["%s"] * len(columns))
            iterator = iter(rows)
            while chunk := list(itertools.islice(iterator, 5000)):
                cursor.executemany(f"INSERT INTO {_qn(table)} ({names}) VALUES ({marks})", chunk)
                count += len(chunk)
    return count


def _distinct(a: str, b: str) -> str:
    op = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return f"{a} {op} {b}"


def bulk_upsert(
    model: type[models.Model],
    *,
    key: Sequence[str],
    fields: Sequence[str],
    rows: Iterable[Sequence],
    insert_values: Mapping[str, Any] | None = None,
) -> UpsertResult:
    """Insert rows whose ``key`` is new, update rows whose ``fields`` changed, leave the rest alone.

    ``rows`` are tuples of ``key + fields`` values (attnames, e.g. ``store_id``);
    ``insert_values`` maps attnames to values set only on insert, such as ``{"created_at": now}``.
    Must run inside a transaction.
    """
    table = _qn(model._meta.db_table)
    columns = [_column(model, name) for name in (*key, *fields)]
    staging = f"stage_{model._meta.db_table}"
    total = load_staging(staging, columns, rows)
    key_cols = [_column(model, name)[0] for name in key]
    field_cols = [_column(model, name)[0] for name in fields]
    join = " AND ".join(f"t.{_qn(c)} = s.{_qn(c)}" for c in key_cols)
    with connection.cursor() as cursor:
        updated = 0
        if field_cols:
            changed = " OR ".join(_distinct(f"t.{_qn(c)}", f"s.{_qn(c)}") for c in field_cols)
            assignments = ", ".join(f"{_qn(c)} = s.{_qn(c)}" for c in field_cols)
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM {_qn(staging)} AS s WHERE {join} AND ({changed})"
            )
            updated = cursor.rowcount
        insert_values = dict(insert_values or {})
        extra_cols = [_column(model, name)[0] for name in insert_values]
        target_cols = ", ".join(_qn(c) for c in (*key_cols, *field_cols, *extra_cols))
        source_cols = ", ".join([f"s.{_qn(c)}" for c in (*key_cols, *field_cols)] + ["%s"] * len(insert_values))
        cursor.execute(
            f"INSERT INTO {table} ({target_cols}) SELECT {source_cols} FROM {_qn(staging)} AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {join})",
            list(insert_values.values()),
        )
        created = cursor.rowcount
        cursor.execute(f"DROP TABLE {_qn(staging)}")
    return UpsertResult(created=created, updated=updated, unchanged=total - created - updated)
