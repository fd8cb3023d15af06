"""Reads for the campaigns console: per-step figures, sample members for previews."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from apps.members.models import Member

from .journeys import business_today, step_select
from .models import Journey, JourneyStep, OutboxMessage


def journey_step_stats(*, journey: Journey) -> dict[int, dict[str, int]]:
    """Touches per step and status, in one query: {step id: {status: count}}."""
    stats: dict[int, dict[str, int]] = {}
    rows = (
        OutboxMessage.objects.filter(journey_step__journey=journey)
        .values("journey_step_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        stats.setdefault(row["journey_step_id"], {})[row["status"]] = row["n"]
    return stats


def journey_step_sample_member(*, step: JourneyStep, now: datetime | None = None) -> Member | None:
    """One member the step reaches today (for the preview), or None."""
    now = now or timezone.now()
    select, params = step_select(step, today=business_today(now), now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT member_id FROM ({select}) due WHERE due.status = 'pending' LIMIT 1", params)
        row = cursor.fetchone()
    return Member.objects.filter(pk=row[0]).first() if row else None


def preview_member(*, code: str = "") -> Member | None:
    """The member named by ``code``, else any active member (the preview needs someone)."""
    members = Member.objects.filter(status=Member.Status.ACTIVE)
    if code:
        return members.filter(code=code.strip()).first()
    return members.order_by("pk").first()
