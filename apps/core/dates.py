"""Calendar helpers: the one definition of "the start of a local day"."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone


def local_midnight(day: date, tz: tzinfo | None = None) -> datetime:
    """The first instant of ``day`` in ``tz`` (default: the current time zone, settings.TIME_ZONE)."""
    return datetime.combine(day, time.min, tzinfo=tz or timezone.get_current_timezone())


def last_complete_month(today: date | None = None) -> date:
    """The first day of the month before ``today``'s (local): the latest month whose figures are final."""
    first = (today or timezone.localdate()).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)
