"""Calendar helpers: the one definition of "the start of a local day"."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from django.utils import timezone


def local_midnight(day: date, tz: tzinfo | None = None) -> datetime:
    """The first instant of ``day`` in ``tz`` (default: the current time zone, settings.TIME_ZONE)."""
    return datetime.combine(day, time.min, tzinfo=tz or timezone.get_current_timezone())
