"""Small helpers for hand-written SQL on hot paths."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime


def aware_datetime(value: datetime | str | None) -> datetime | None:
    """A datetime read by raw SQL, made timezone-aware (SQLite returns UTC text or naive values)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
