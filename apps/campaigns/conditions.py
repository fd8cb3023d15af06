"""Send-time conditions of journey steps, as small strategies.

Each condition answers, for a batch of touches, which of them still hold: one query per condition per
dispatcher batch, whatever the batch size. A touch is the member and the day its trigger happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from apps.core.dates import local_midnight
from apps.loyalty.models import Coupon, PointsLot
from apps.members.models import Member
from apps.orders.models import Order


@dataclass(frozen=True)
class Touch:
    outbox_id: int
    member_id: int
    occurred_on: date


Check = Callable[[list[Touch], datetime], set[int]]


def _day_start(day: date) -> datetime:
    return local_midnight(day)


def _last_purchase(member_ids: Iterable[int]) -> dict[int, datetime]:
    return dict(
        Order.objects.filter(member_id__in=set(member_ids))
        .values("member_id")
        .annotate(last=Max("placed_at"))
        .values_list("member_id", "last")
    )


def not_bought_since_trigger(touches: list[Touch], now: datetime) -> set[int]:
    """Has not bought since the trigger (e.g. "has not bought since joining")."""
    last = _last_purchase(t.member_id for t in touches)
    return {t.outbox_id for t in touches if t.member_id not in last or last[t.member_id] < _day_start(t.occurred_on)}


def bought_since_trigger(touches: list[Touch], now: datetime) -> set[int]:
    """Has bought at least once since the trigger."""
    passing = not_bought_since_trigger(touches, now)
    return {t.outbox_id for t in touches if t.outbox_id not in passing}


def has_points(touches: list[Touch], now: datetime) -> set[int]:
    """Has a points balance above zero."""
    with_points = set(
        Member.objects.filter(pk__in={t.member_id for t in touches}, points_balance__gt=0).values_list("pk", flat=True)
    )
    return {t.outbox_id for t in touches if t.member_id in with_points}


def has_expiring_points(touches: list[Touch], now: datetime) -> set[int]:
    """Has points that expire within 30 days."""
    members = set(
        PointsLot.objects.filter(
            member_id__in={t.member_id for t in touches},
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=30),
        ).values_list("member_id", flat=True)
    )
    return {t.outbox_id for t in touches if t.member_id in members}


def has_unused_coupon(touches: list[Touch], now: datetime) -> set[int]:
    """Holds a coupon that is still usable."""
    members = set(
        Coupon.objects.filter(
            member_id__in={t.member_id for t in touches}, status=Coupon.Status.ISSUED, expires_at__gt=now
        ).values_list("member_id", flat=True)
    )
    return {t.outbox_id for t in touches if t.member_id in members}


CONDITIONS: dict[str, tuple[str, Check]] = {
    "not_bought_since_trigger": (_("has not bought since the trigger"), not_bought_since_trigger),
    "bought_since_trigger": (_("has bought since the trigger"), bought_since_trigger),
    "has_points": (_("has points"), has_points),
    "has_expiring_points": (_("has points expiring within 30 days"), has_expiring_points),
    "has_unused_coupon": (_("holds a usable coupon"), has_unused_coupon),
}
CONDITION_CHOICES = [("", _("always"))] + [(code, label) for code, (label, _check) in CONDITIONS.items()]


def conditions_check(*, touches_by_condition: dict[str, list[Touch]], now: datetime) -> set[int]:
    """The outbox ids whose condition holds now (touches without a condition always hold)."""
    passing: set[int] = set()
    for code, touches in touches_by_condition.items():
        if not code:
            passing |= {t.outbox_id for t in touches}
        elif code in CONDITIONS:
            passing |= CONDITIONS[code][1](touches, now)
        # an unknown condition (removed from the code) holds for no one: better silent than wrong
    return passing
