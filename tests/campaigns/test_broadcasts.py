"""Broadcasts: a segment's members split into variants and a holdout, sent once, measured against the holdout."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.campaigns.broadcasts import (
    arm_bounds,
    arm_of,
    broadcast_audience_preview,
    broadcast_materialise,
    broadcast_pause,
    broadcast_results,
    broadcast_resume,
    broadcast_schedule,
    bucket_of,
    uplift_ci,
)
from apps.campaigns.errors import InvalidBroadcast
from apps.campaigns.models import Broadcast, BroadcastAudience, BroadcastVariant, OutboxMessage
from apps.campaigns.services import outbox_dispatch_due, touches_materialise
from apps.insights.models import Segment, SegmentCondition
from apps.loyalty.models import Coupon
from tests.factories import TierFactory
from tests.loyalty.factories import CouponTemplateFactory

from .factories import order_for, reachable_member

S = OutboxMessage.Status


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5
    settings.CAMPAIGN_MAX_PER_WEEK = 10


def _broadcast(segment, *variants: dict, holdout: int = 20, status="scheduled", **fields) -> Broadcast:
    broadcast = Broadcast.objects.create(
        code=fields.pop("code", "spring"),
        name="Spring sale",
        segment=segment,
        send_at=fields.pop("send_at", timezone.now() - timedelta(minutes=1)),
        holdout_percent=holdout,
        status=status,
        **fields,
    )
    for n, variant in enumerate(variants or [{}]):
        BroadcastVariant.objects.create(
            broadcast=broadcast,
            **{
                "label": "AB"[n],
                "action": "subscribe",
                "template_id": "SPRING",
                "content": "thing1: {name}",
                **variant,
            },
        )
    return broadcast


def _gold_segment():
    gold = TierFactory(code="gold")
    segment = Segment.objects.create(code="gold", name="Gold")
    SegmentCondition.objects.create(segment=segment, kind="tier", value="gold")
    return segment, gold


@pytest.mark.django_db
def test_a_broadcast_reaches_its_segment_once_and_the_holdout_gets_nothing(fake_wechat):
    segment, gold = _gold_segment()
    members = [reachable_member(tier=gold) for _ in range(60)]
    reachable_member()  # not in the segment
    reachable_member(tier=gold, consent=False)  # in the segment but no consent: not in the audience
    broadcast = _broadcast(segment, {}, {"content": "thing1: Hello {name}, spring is here"})

    made = touches_materialise()
    again = touches_materialise()
    outbox_dispatch_due()

    broadcast.refresh_from_db()
    audience = dict(BroadcastAudience.objects.filter(broadcast=broadcast).values_list("member_id", "variant_id"))
    assert set(audience) == {m.pk for m in members} and broadcast.audience_size == 60
    holdout = {m for m, v in audience.items() if v is None}
    assert 0 < len(holdout) < 30
    assert made["broadcast:spring"] == 60 - len(holdout) and again.get("broadcast:spring", 0) == 0
    received = [m["to"][0] for m in fake_wechat.messages()]
    assert len(received) == len(set(received)) == 60 - len(holdout)
    assert not {f"oOpen{m:08d}" for m in holdout} & set(received)
    assert broadcast.status == Broadcast.Status.SENT


@pytest.mark.django_db
def test_assignment_is_deterministic_and_matches_in_python_and_sql(fake_wechat):
    segment, gold = _gold_segment()
    members = [reachable_member(tier=gold) for _ in range(40)]
    broadcast = _broadcast(segment, {"weight": 1}, {"weight": 3}, holdout=25)
    variants = list(broadcast.variants.order_by("label"))
    bounds = arm_bounds(broadcast=broadcast, variants=variants)
    assert bounds == [(2500, None), (4375, variants[0].pk), (10000, variants[1].pk)]

    broadcast_materialise(broadcast=broadcast)

    stored = dict(BroadcastAudience.objects.values_list("member_id", "variant_id"))
    expected = {
        m.pk: arm_of(bucket=bucket_of(broadcast_id=broadcast.pk, member_id=m.pk), bounds=bounds) for m in members
    }
    assert stored == expected
    preview = broadcast_audience_preview(broadcast=broadcast)
    assert preview["total"] == 40
    assert preview["holdout"] == sum(1 for v in stored.values() if v is None)
    assert preview["B"] == sum(1 for v in stored.values() if v == variants[1].pk)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_a_broadcast_once(fake_wechat):
    segment, gold = _gold_segment()
    for _ in range(30):
        reachable_member(tier=gold)
    broadcast = _broadcast(segment, holdout=0)
    barrier, made = threading.Barrier(2), []

    def run():
        try:
            barrier.wait()
            made.append(broadcast_materialise(broadcast=broadcast))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(made) == [0, 30]
    assert OutboxMessage.objects.count() == 30 == BroadcastAudience.objects.count()


@pytest.mark.django_db
def test_results_count_sends_coupons_buyers_and_uplift_over_the_holdout(fake_wechat):
    segment, gold = _gold_segment()
    template = CouponTemplateFactory(code="spring20")
    members = [reachable_member(tier=gold) for _ in range(80)]
    broadcast = _broadcast(segment, {"coupon_template": template, "content": "thing1: {coupon_code}"}, holdout=30)
    broadcast_materialise(broadcast=broadcast)
    fake_wechat.fail_openid(f"oOpen{members[0].pk:08d}", 43004)
    outbox_dispatch_due()
    audience = dict(BroadcastAudience.objects.values_list("member_id", "variant_id"))
    treated = [m for m in members if audience[m.pk] is not None]
    held = [m for m in members if audience[m.pk] is None]
    # Half the treated buy, a tenth of the holdout buys; one coupon is redeemed.
    for m in treated[: len(treated) // 2]:
        order_for(m, at=timezone.now() + timedelta(hours=1), total="50.00")
    for m in held[: max(1, len(held) // 10)]:
        order_for(m, at=timezone.now() + timedelta(hours=1), total="50.00")
    order_for(held[-1], at=timezone.now() + timedelta(days=40))  # outside the results window
    Coupon.objects.filter(member=treated[1]).update(status="redeemed", redeemed_at=timezone.now())

    variant, holdout = broadcast_results(broadcast=broadcast)

    failed = 1 if members[0] in treated else 0
    assert (variant.members, holdout.members) == (len(treated), len(held))
    assert variant.sent == len(treated) - failed and variant.failed == failed
    assert variant.coupons_issued == len(treated) and variant.coupons_redeemed == 1
    assert variant.buyers == len(treated) // 2 and holdout.buyers == max(1, len(held) // 10)
    assert variant.revenue == 50 * variant.buyers
    assert variant.uplift == pytest.approx(variant.conversion - holdout.conversion)
    assert variant.ci_low < variant.uplift < variant.ci_high
    assert holdout.sent == 0 and holdout.uplift is None


def test_uplift_interval_is_the_normal_approximation_of_a_difference_of_proportions():
    diff, low, high = uplift_ci(buyers=120, members=1000, holdout_buyers=80, holdout_members=1000)
    assert diff == pytest.approx(0.04)
    se = ((0.12 * 0.88 + 0.08 * 0.92) / 1000) ** 0.5
    assert (low, high) == (pytest.approx(0.04 - 1.959964 * se), pytest.approx(0.04 + 1.959964 * se))


@pytest.mark.django_db
def test_pause_before_and_after_it_went_out(fake_wechat):
    segment, gold = _gold_segment()
    for _ in range(10):
        reachable_member(tier=gold)
    broadcast = _broadcast(segment, holdout=0)

    broadcast_pause(broadcast=broadcast)
    touches_materialise()
    assert OutboxMessage.objects.count() == 0

    broadcast_resume(broadcast=broadcast)
    touches_materialise()
    broadcast_pause(broadcast=broadcast)
    outbox_dispatch_due()
    assert OutboxMessage.objects.count() == 10 and fake_wechat.messages() == []

    broadcast_resume(broadcast=broadcast)
    outbox_dispatch_due()
    assert len(fake_wechat.messages()) == 10


@pytest.mark.django_db
def test_a_broadcast_without_variants_or_with_bad_content_cannot_be_scheduled(fake_wechat):
    segment, _gold = _gold_segment()
    empty = Broadcast.objects.create(code="e", name="e", segment=segment, send_at=timezone.now())
    with pytest.raises(InvalidBroadcast):
        broadcast_schedule(broadcast=empty)
    bad = _broadcast(segment, {"content": "thing1: {unknown}"}, code="bad", status="draft")
    with pytest.raises(InvalidBroadcast):
        broadcast_schedule(broadcast=bad)
    good = _broadcast(segment, code="good", status="draft")
    assert broadcast_schedule(broadcast=good).status == "scheduled"


@pytest.mark.django_db
def test_a_future_broadcast_waits_for_its_time(fake_wechat):
    segment, gold = _gold_segment()
    reachable_member(tier=gold)
    _broadcast(segment, send_at=timezone.now() + timedelta(hours=2))
    assert "broadcast:spring" not in touches_materialise()
    assert OutboxMessage.objects.count() == 0
