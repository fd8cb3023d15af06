"""Demo members: four tiers and about 3,000 members over two years, with WeChat identities, consent and
a year of spend that spreads them over the tiers the way a real base does (most at the bottom)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from apps.core.money import quantize_money
from apps.stores.models import Channel, Staff, Store

from .codes import member_code_new
from .models import Consent, Identity, Member, MemberSpendDay, Tier, TierChange
from .services import tiers_evaluate

TIERS = [
    ("silver", "Silver", 1, "0", "1", "0", "Birthday coupon; points on every purchase."),
    ("gold", "Gold", 2, "3000", "1.5", "5", "5% member prices; free alterations."),
    ("platinum", "Platinum", 3, "10000", "2", "8", "8% member prices; early access to new collections."),
    ("diamond", "Diamond", 4, "30000", "3", "12", "12% member prices; a personal shopping guide."),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
]
DEMO_PHONE = "+8613800138000"
COUNT = 3000
MOBILE_PREFIXES = ("135", "136", "138", "139", "150", "158", "186", "187", "177", "131")


def seed(*, stdout) -> list[str]:
    for code, name, rank, spend, rate, discount, benefits in TIERS:
        Tier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "min_annual_spend": Decimal(spend),
                "points_per_yuan": Decimal(rate),
                "discount_percent": Decimal(discount),
                "benefits": benefits,
            },
        )
    base = Tier.objects.get(code="silver")
    rng = random.Random(2026)
    now = timezone.now()
    stores = list(Store.objects.filter(kind=Store.Kind.STORE).order_by("code"))
    channels = {c.code: c for c in Channel.objects.all()}
    guides: dict[int, list[Staff]] = {}
    for staff in Staff.objects.filter(role__in=[Staff.Role.GUIDE, Staff.Role.CLERK]).prefetch_related("stores"):
        for store in staff.stores.all():
            guides.setdefault(store.pk, []).append(staff)
    phones = {DEMO_PHONE}
    # Common mobile prefixes only: every demo phone must pass the same check imports apply.
    while len(phones) < COUNT:
        phones.add(f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}")
    members = []
    for phone in sorted(phones):
        store = rng.choice(stores) if stores else None
        online = rng.random() < 0.3
        joined = now - timedelta(days=rng.randrange(1, 730), minutes=rng.randrange(1440))
        members.append(
            Member(
                code=member_code_new(),
                phone=phone,
                name="李娜" if phone == DEMO_PHONE else rng.choice(SURNAMES) + rng.choice(GIVEN),
                birthday=(now - timedelta(days=rng.randrange(18 * 365, 65 * 365))).date()
                if rng.random() < 0.8
                else None,
                joined_at=now - timedelta(days=400) if phone == DEMO_PHONE else joined,
                join_channel=channels.get(rng.choice(["mall", "mini", "tmall"]) if online else "pos"),
                join_store=store,
                recruited_by=rng.choice(guides.get(store.pk, [None])) if store and not online else None,
                tier=base,
                tier_since=joined,
            )
        )
    Member.objects.bulk_create(members, ignore_conflicts=True, batch_size=1000)
    by_phone = dict(Member.objects.filter(phone__in=phones).values_list("phone", "pk"))
    identities, consents, spend = [], [], []
    for phone, member_id in by_phone.items():
        if rng.random() < 0.65 or phone == DEMO_PHONE:
            identities.append(Identity(member_id=member_id, kind="wechat_openid", value=f"oDEMO{member_id:08d}"))
            consents.append(
                Consent(
                    member_id=member_id, channel="wechat", granted=rng.random() < 0.8, changed_at=now, source="demo"
                )
            )
        if rng.random() < 0.4:
            identities.append(Identity(member_id=member_id, kind="wechat_unionid", value=f"uDEMO{member_id:08d}"))
        if rng.random() < 0.5:
            consents.append(
                Consent(member_id=member_id, channel="sms", granted=rng.random() < 0.5, changed_at=now, source="demo")
            )
        # A heavy-tailed year of spend: most members a few hundred yuan, a few tens of thousands.
        yearly = rng.lognormvariate(7.3, 1.1)
        if phone == DEMO_PHONE:
            yearly = 2800.0  # close to Gold, to show progress on the member card
        visits = max(1, min(40, int(yearly / 600) + 1))
        days = {(now - timedelta(days=rng.randrange(0, 360))).date() for _ in range(visits)}
        for day in days:
            spend.append(MemberSpendDay(member_id=member_id, day=day, amount=quantize_money(yearly / len(days))))
    Identity.objects.bulk_create(identities, ignore_conflicts=True, batch_size=2000)
    Consent.objects.bulk_create(consents, ignore_conflicts=True, batch_size=2000)
    MemberSpendDay.objects.bulk_create(spend, ignore_conflicts=True, batch_size=5000)
    history = TierChange._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {history} (member_id, from_tier_id, to_tier_id, reason, spend_12m, changed_at) "
            f"SELECT m.id, NULL, %s, 'joined', 0, m.joined_at FROM {Member._meta.db_table} m "
            f"WHERE NOT EXISTS (SELECT 1 FROM {history} t WHERE t.member_id = m.id)",
            [base.pk],
        )
    result = tiers_evaluate(now=now)
    demo = Member.objects.get(phone=DEMO_PHONE)
    stdout.write(f"  members: {len(by_phone)}, tier moves {result}")
    return [f"Demo member: card {demo.code}, phone 138****8000 (WeChat openid oDEMO{demo.pk:08d})"]
