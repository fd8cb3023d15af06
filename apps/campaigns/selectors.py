"""Reads for the campaigns console: per-step figures, sample members for previews."""

from __future__ import annotations

from datetime import datetime, timedelta

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


def outbox_for_member(*, member_id: int, limit: int = 20) -> list[OutboxMessage]:
    """The member's latest touches (journey step or broadcast, state, reason), newest first, in one query."""
    return list(
        OutboxMessage.objects.filter(member_id=member_id)
        .select_related("journey_step__journey", "broadcast_variant__broadcast")
        .order_by("-id")[:limit]
    )


def sending_status(*, now: datetime | None = None, count_cap: int = 10_000) -> dict:
    """Whether outreach is paused (and why), how many messages wait (counted up to ``count_cap``), and whether
    WeChat's daily quota is holding some back: three small indexed queries for the console's home."""
    from .services import sending_control
    from .wechat.client import QUOTA_ERRORS, RETRY_AFTER_QUOTA

    now = now or timezone.now()
    control = sending_control()
    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
    waiting = pending.filter(next_attempt_at__lte=now).values("pk")[:count_cap].count()
    # A message WeChat refused for its daily quota waits RETRY_AFTER_QUOTA: look only in that window of the due
    # index, so a large backlog waiting for other reasons is never scanned.
    held_by_quota = pending.filter(
        next_attempt_at__gt=now,
        next_attempt_at__lte=now + timedelta(seconds=RETRY_AFTER_QUOTA + 60),
        last_errcode__in=QUOTA_ERRORS,
    ).exists()
    return {
        "is_paused": control.is_paused,
        "reason": control.reason,
        "waiting": waiting,
        "waiting_capped": waiting >= count_cap,
        "held_by_quota": held_by_quota,
    }
