"""A small merchant for the console's browser tests and screenshots: three stores, an HQ operator, a member
with fourteen months of orders, points, coupons, tags, a profile and a welcome message, and KPI aggregates."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.models import Journey, JourneyStep
from apps.core.services import heartbeat_record
from apps.insights.kpis import kpi_aggregates_refresh
from apps.insights.models import Tag
from apps.insights.profiles import member_profiles_refresh
from apps.insights.services import member_tag_add
from apps.loyalty.coupons import coupon_issue
from apps.loyalty.points import points_adjust, points_earn
from apps.members.models import Member
from apps.members.services import member_record_spend, member_register
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import ChannelFactory, StoreFactory, TierFactory
from tests.insights.factories import make_order
from tests.loyalty.factories import CouponTemplateFactory

PASSWORD = "pw-for-tests-1"
PHONE = "13800138000"


@dataclass
class ConsoleWorld:
    operator: Staff
    member: Member


def build_console_world(*, others: int = 40) -> ConsoleWorld:
    rng = random.Random(7)
    TierFactory(code="silver", name="Silver", rank=1, min_annual_spend=Decimal("0"))
    TierFactory(code="gold", name="Gold", rank=2, min_annual_spend=Decimal("3000"), points_per_yuan=Decimal("2"))
    TierFactory(code="platinum", name="Platinum", rank=3, min_annual_spend=Decimal("10000"))
    pos = ChannelFactory(code="pos", name="Store POS", kind="pos")
    mall = ChannelFactory(code="mall", name="Own mall", kind="mall")
    stores = [
        StoreFactory(code="SH001", name="Jing'an"),
        StoreFactory(code="SH002", name="Xintiandi"),
        StoreFactory(code="HZ001", name="Hubin", city="Hangzhou"),
    ]
    operator = staff_create(code="HQ1", name="Chen Jing", role=Staff.Role.HQ_OPERATOR, username="hq", password=PASSWORD)
    now = timezone.now()
    today = timezone.localdate()
    member, _ = member_register(
        phone=PHONE,
        name="Li Na",
        store=stores[0],
        channel=pos,
        at=now - timedelta(days=430),
        identities=[{"kind": "wechat_openid", "value": "oLINA0001"}],
        consents={"wechat": True},
    )
    people = [member]
    for i in range(others):
        joined = now - timedelta(days=rng.randint(3, 420))
        other, _ = member_register(
            phone=f"1390013{i:04d}", name=f"Member {i}", store=rng.choice(stores), channel=pos, at=joined
        )
        people.append(other)
    for day_offset in range(420, 0, -3):
        day = today - timedelta(days=day_offset)
        for _ in range(rng.randint(2, 6)):
            buyer = rng.choice([None, *people]) if rng.random() < 0.8 else None
            if buyer is not None and buyer.joined_at.date() > day:
                buyer = None
            make_order(
                channel=rng.choice([pos, pos, mall]),
                store=rng.choice(stores),
                day=day,
                total=f"{rng.randint(40, 900)}.{rng.choice(['00', '50', '90'])}",
                member=buyer,
            )
    for i, day_offset in enumerate([*range(400, 0, -30), 0]):
        total = "1234.50" if day_offset == 0 else f"{300 + 37 * i}.50"
        order = make_order(
            channel=pos if i % 3 or not day_offset else mall,
            store=stores[i % 2] if day_offset else stores[0],
            day=today - timedelta(days=day_offset),
            total=total,
            member=member,
        )
        member_record_spend(member_id=member.pk, amount=Decimal(total), at=order.placed_at, reference=order.number)
    points_earn(member_id=member.pk, points=2860, reference="orders", idempotency_key="world:earn")
    points_adjust(
        member_id=member.pk, points=200, reason="Apology for a late delivery", user=operator.user, idempotency_key="w1"
    )
    coupon_issue(template=CouponTemplateFactory(code="tenoff", name="10 yuan off", value=Decimal("10")), member=member)
    coupon_issue(template=CouponTemplateFactory(code="bday", name="Birthday gift: 30 off 150"), member=member)
    for code, name in (("tea-lover", "Tea lover"), ("vip", "VIP service")):
        Tag.objects.create(code=code, name=name)
        member_tag_add(member=member, tag_code=code, by=operator.user)
    journey = Journey.objects.create(code="welcome", name="Welcome", trigger="joined")
    JourneyStep.objects.create(
        journey=journey, offset=430, action="subscribe", template_id="TPL-WELCOME", content="thing1: Welcome, {name}!"
    )
    journeys_materialise(now=now)
    member_profiles_refresh(full=True)
    kpi_aggregates_refresh(full=True)
    heartbeat_record()
    member.refresh_from_db()
    return ConsoleWorld(operator=operator, member=member)
