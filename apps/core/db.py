"""Small helpers for hand-written SQL on hot paths."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection


def aware_datetime(value: datetime | None) -> datetime | None:
    """A datetime read by raw SQL, made timezone-aware (a ``timestamp`` column comes back naive, in UTC)."""
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def require_transaction(name: str) -> None:
    """Refuse to run ``name`` outside a transaction: the ``*_in_transaction`` services take no savepoint of
    their own and rely on the caller's transaction rolling back whole on any error."""
    if not connection.in_atomic_block:
        raise RuntimeError(f"{name} runs inside the caller's transaction (it has no savepoint of its own).")
