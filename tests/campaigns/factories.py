"""Members that can be reached on WeChat, orders and journeys, for the campaigns tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.campaigns.models import Journey, JourneyStep
from apps.members.models import Consent, Identity, Member
from apps.orders.models import Order
from tests.factories import ChannelFactory, MemberFactory

_numbers = itertools.count(1)


def reachable_member(*, consent: bool = True, openid: bool = True, **fields) -> Member:
    """A member with a WeChat openid and WeChat consent (unless told otherwise)."""
    member = MemberFactory(**fields)
    if openid:
        Identity.objects.create(member=member, kind="wechat_openid", value=f"oOpen{member.pk:08d}")
    Consent.objects.create(member=member, channel="wechat", granted=consent, changed_at=timezone.now())
    return member


def openid_of(member: Member) -> str:
    return f"oOpen{member.pk:08d}"


def order_for(member: Member, *, at: datetime, total: str = "100.00") -> Order:
    n = next(_numbers)
    return Order.objects.create(
        number=f"C{n:08d}",
        channel=ChannelFactory(code="pos"),
        external_id=f"c{n}",
        member=member,
        placed_at=at,
        subtotal=Decimal(total),
        total=Decimal(total),
    )


def days_ago(n: int, *, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=n)


def journey_with_steps(trigger: str, *steps: dict, code: str = "welcome", **fields) -> Journey:
    journey = Journey.objects.create(code=code, name=code.title(), trigger=trigger, **fields)
    for step in steps:
        JourneyStep.objects.create(
            journey=journey,
            **{"action": "subscribe", "template_id": "TPL", "content": "thing1: Hi {name}", **step},
        )
    return journey
