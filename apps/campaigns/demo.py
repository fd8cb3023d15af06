"""Demo campaigns: a welcome journey (days 3, 7, 15, 30), a win-back journey, a birthday journey, and a
broadcast that went out ten days ago through the fake WeChat server, with A/B results against a holdout.

The broadcast is sent for real: a fake WeChat server is started on a free loopback port for the seed,
the outbox dispatcher sends to it, delivery reports come back, and members of every arm then buy at
believable rates (the treated a little more often than the holdout).
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from apps.core.demo_links import demo_url
from apps.insights.conditions import ConditionSpec
from apps.insights.models import Segment
from apps.insights.services import segment_save
from apps.loyalty.models import Coupon, CouponTemplate
from apps.orders.models import Order
from apps.stores.models import Channel

from .broadcasts import broadcast_materialise, broadcast_results
from .journeys import journeys_materialise
from .models import Broadcast, BroadcastAudience, BroadcastVariant, Journey, JourneyStep, OutboxMessage
from .services import outbox_dispatch_due, outbox_record_delivery
from .wechat.client import _sender_for
from .wechat.fake_server import FakeWeChat

TEMPLATES = [
    ("journey-birthday", "Birthday gift: 30 off 150", "30", "150", 30),
    ("winback-20", "We miss you: 20 off 100", "20", "100", 21),
    ("autumn-30", "Autumn sale: 30 off 200", "30", "200", 14),
]
WELCOME = [
    (3, "", "subscribe", "thing1: Welcome, {name}!\nthing2: Your card {code} is ready at {store}", None, None),
    (7, "not_bought_since_trigger", "subscribe", "thing1: {name}, your welcome gift is waiting", None, None),
    (15, "", "reward", "", None, 50),
    (
        30,
        "not_bought_since_trigger",
        "wecom",
        "Hi {name}, it's your guide at {store}. Anything I can help with?",
        None,
        None,
    ),
]


def _journey(code: str, name: str, trigger: str, steps: list, trigger_days: int | None = None) -> Journey:
    journey, created = Journey.objects.get_or_create(
        code=code, defaults={"name": name, "trigger": trigger, "trigger_days": trigger_days}
    )
    if created:
        for offset, condition, action, content, coupon, points in steps:
            JourneyStep.objects.create(
                journey=journey,
                offset=offset,
                condition=condition,
                action=action,
                template_id="" if action in {"wecom", "reward"} else f"TPL-{code.upper()}",
                content=content,
                coupon_template=CouponTemplate.objects.get(code=coupon) if coupon else None,
                points=points,
            )
    return journey


def seed(*, stdout) -> list[str]:
    for code, name, value, min_spend, days in TEMPLATES:
        CouponTemplate.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": "amount",
                "value": Decimal(value),
                "min_spend": Decimal(min_spend),
                "valid_days": days,
                "per_member_limit": None,
            },
        )
    _journey("welcome", "Welcome: days 3, 7, 15, 30", "joined", WELCOME)
    _journey(
        "winback",
        "Win-back: quiet for 60 days",
        "no_purchase",
        [
            (
                0,
                "",
                "subscribe",
                "thing1: {name}, we miss you\nthing2: {coupon_code} until {coupon_expires}",
                "winback-20",
                None,
            ),
            (14, "not_bought_since_trigger", "wecom", "Hi {name}, new arrivals at {store} this week.", None, None),
        ],
        trigger_days=60,
    )
    _journey(
        "birthday",
        "Birthday gift",
        "birthday",
        [(0, "", "subscribe", "thing1: Happy birthday, {name}!\nthing2: {coupon_code}", "journey-birthday", None)],
    )
    broadcast = Broadcast.objects.filter(code="autumn-sale").first() or _broadcast_sent(stdout=stdout)
    made = journeys_materialise()
    stdout.write(f"  campaigns: journey touches due today {made}")
    return [
        f"Campaigns: broadcast results at /admin/campaigns/broadcast/{broadcast.pk}/results/",
        "WeChat binding and the member card inside WeChat (against the fake WeChat server on :8900):",
        f"  1. as clerk, register a member ({demo_url('/store/members/register/')}): the welcome page shows",
        "     WeChat's binding QR (qrcode/create + showqrcode) and until when it is valid;",
        "  2. open the simulated phone http://127.0.0.1:8900/_fake/phone?openid=oDemoCustomer01 and 'scan' the",
        "     newest bind:... code: WeChat's signed subscribe callback binds that openid to the member",
        "     (never a new member);",
        "  3. on the phone page, 'Open the member card': /m/ signs in through WeChat OAuth and shows that card.",
        "  Conflicts (an openid already bound elsewhere) wait at /admin/members/bindingconflict/ with a merge action.",
    ]


def _broadcast_sent(*, stdout) -> Broadcast:
    """A broadcast that went out ten days ago through the fake WeChat server, with buyers since."""
    now = timezone.now()
    sent_at = now - timedelta(days=10)
    segment = Segment.objects.filter(code="wechat-reachable").first() or segment_save(
        code="wechat-reachable",
        name="Reachable on WeChat",
        conditions=[ConditionSpec(kind="has_wechat"), ConditionSpec(kind="consent", value="wechat")],
    )
    broadcast = Broadcast.objects.create(
        code="autumn-sale",
        name="Autumn sale",
        segment=segment,
        send_at=sent_at,
        holdout_percent=15,
        attribution_days=14,
        status=Broadcast.Status.SCHEDULED,
    )
    BroadcastVariant.objects.create(
        broadcast=broadcast,
        label="A",
        action="subscribe",
        template_id="TPL-AUTUMN",
        content="thing1: {name}, the autumn sale is on\nthing2: New season at {store}",
    )
    BroadcastVariant.objects.create(
        broadcast=broadcast,
        label="B",
        action="subscribe",
        template_id="TPL-AUTUMN",
        content="thing1: {name}, 30 off for you\nthing2: {coupon_code} until {coupon_expires}",
        coupon_template=CouponTemplate.objects.get(code="autumn-30"),
    )
    broadcast_materialise(broadcast=broadcast, now=sent_at)
    fake = FakeWeChat(
        app_id=settings.WECHAT_APP_ID,
        app_secret=settings.WECHAT_APP_SECRET,
        corp_id=settings.WECOM_CORP_ID,
        corp_secret=settings.WECOM_SECRET,
    ).start()
    try:
        with override_settings(
            WECHAT_API_BASE_URL=fake.base_url,
            WECOM_API_BASE_URL=fake.base_url,
            CAMPAIGN_QUIET_HOURS="0-0",
            CAMPAIGN_MAX_PER_DAY=100,
            CAMPAIGN_MAX_PER_WEEK=100,
        ):
            _sender_for.cache_clear()
            OutboxMessage.objects.filter(broadcast_variant__broadcast=broadcast).update(next_attempt_at=now)
            stats = outbox_dispatch_due(max_batches=1000)
    finally:
        fake.stop()
        _sender_for.cache_clear()
    rng = random.Random(10)
    rows = OutboxMessage.objects.filter(broadcast_variant__broadcast=broadcast, status="sent")
    for msgid in rows.values_list("msgid", flat=True):
        outbox_record_delivery(msgid=msgid, delivered=rng.random() < 0.93, detail="failed:user block")
    # It went out ten days ago: date the sends back so today's frequency caps are not used up by it.
    rows = OutboxMessage.objects.filter(broadcast_variant__broadcast=broadcast, sent_at__isnull=False)
    rows.update(sent_at=sent_at + timedelta(minutes=5), sending_at=sent_at + timedelta(minutes=5))
    _buyers(broadcast=broadcast, sent_at=sent_at, rng=rng)
    arms = broadcast_results(broadcast=broadcast)
    stdout.write(
        f"  campaigns: broadcast sent through the fake WeChat ({stats}); "
        + ", ".join(f"{a.label}: {a.buyers}/{a.members} bought" for a in arms)
    )
    return broadcast


def _buyers(*, broadcast: Broadcast, sent_at, rng: random.Random) -> None:
    """Members buy after the broadcast: the coupon arm most, the message arm a little, the holdout at base rate."""
    channel = Channel.objects.filter(kind=Channel.Kind.MALL).first() or Channel.objects.first()
    rates = {None: 0.06}
    for variant in broadcast.variants.all():
        rates[variant.pk] = 0.13 if variant.coupon_template_id else 0.09
    orders = []
    audience = BroadcastAudience.objects.filter(broadcast=broadcast).values_list("member_id", "variant_id")
    for n, (member_id, variant_id) in enumerate(audience):
        if rng.random() >= rates[variant_id]:
            continue
        total = Decimal(rng.randrange(120, 900))
        orders.append(
            Order(
                number=f"AUT{broadcast.pk:03d}{n:07d}",
                channel=channel,
                external_id=f"DEMO-AUTUMN-{n}",
                member_id=member_id,
                placed_at=sent_at + timedelta(hours=rng.randrange(2, 24 * 12)),
                subtotal=total,
                total=total,
                is_historic=True,
            )
        )
    Order.objects.bulk_create(orders, ignore_conflicts=True)
    # The coupons went out with the messages; most buyers of the coupon arm used theirs.
    coupons = Coupon.objects.filter(template__code="autumn-30")
    coupons.update(issued_at=sent_at, valid_from=sent_at, expires_at=sent_at + timedelta(days=14))
    buyers = {o.member_id for o in orders}
    for pk, member_id in coupons.order_by("pk").values_list("pk", "member_id"):
        if member_id in buyers and rng.random() < 0.7:
            Coupon.objects.filter(pk=pk).update(
                status="redeemed", redeemed_at=F("issued_at") + timedelta(days=rng.randrange(1, 10))
            )
