"""Calendar helpers in the business time zone."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone


def last_complete_month(today: date | None = None) -> date:
    """The first day of the month before ``today``'s (local): the latest month whose figures are final."""
    first = (today or timezone.localdate()).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)
