"""Faults: a worker killed mid-batch, WeChat failing in every documented way. Nothing lost, nothing doubled."""

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.models import OutboxMessage
from apps.campaigns.services import outbox_dispatch_due, outbox_sweep_stale
from apps.loyalty.models import Coupon
from tests.loyalty.factories import CouponTemplateFactory

from .conftest import dispatcher_killed_mid_batch, recipients
from .factories import days_ago, journey_with_steps, openid_of, reachable_member

ROOT = Path(__file__).resolve().parents[2]
S = OutboxMessage.Status


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5
    settings.CAMPAIGN_MAX_PER_WEEK = 10


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_of_coupon_touches_issues_each_coupon_once_and_sends_each_message_once(
    fake_wechat,
):
    template = CouponTemplateFactory(code="welcome10", per_member_limit=None)
    journey_with_steps("joined", {"offset": 3, "coupon_template": template, "content": "thing1: {coupon_code}"})
    members = [reachable_member(joined_at=days_ago(3)) for _ in range(30)]
    journeys_materialise()
    sent_before_kill = dispatcher_killed_mid_batch(fake_wechat, batch_size=30, timeout=60)
    assert 5 <= sent_before_kill < 30, "the kill must land mid-batch"

    released, in_doubt = outbox_sweep_stale(now=timezone.now() + timedelta(hours=1))
    outbox_dispatch_due()

    received = recipients(fake_wechat)
    assert len(received) == len(set(received))  # no message twice
    statuses = Counter(OutboxMessage.objects.values_list("status", flat=True))
    assert set(statuses) <= {S.SENT, S.IN_DOUBT} and statuses[S.IN_DOUBT] == in_doubt <= 4 and released >= 1
    doubtful = {openid_of(r.member) for r in OutboxMessage.objects.filter(status=S.IN_DOUBT).select_related("member")}
    assert set(received) | doubtful == {openid_of(m) for m in members}  # none lost
    # One coupon per member, each recorded on its touch and named in the message that went out.
    per_member = Counter(Coupon.objects.values_list("member_id", flat=True))
    assert set(per_member.values()) == {1} and len(per_member) == 30
    recorded = set(OutboxMessage.objects.values_list("payload__coupon_code", flat=True))
    assert recorded == set(Coupon.objects.values_list("code", flat=True))
    for message in fake_wechat.messages():
        assert message["body"]["data"]["thing1"]["value"] in recorded


@pytest.mark.django_db
def test_wechat_failing_every_way_loses_nothing_and_doubles_nothing(fake_wechat):
    journey_with_steps("joined", {"offset": 7})
    members = [reachable_member(joined_at=days_ago(7)) for _ in range(20)]
    unsubscribed, invalid = members[0], members[1]
    fake_wechat.fail_openid(openid_of(unsubscribed), 43004)
    fake_wechat.fail_openid(openid_of(invalid), 40003)
    journeys_materialise()
    # Busy, HTTP 500, the daily quota, an invalidated token, a slow (but in time) answer, an expired token.
    fake_wechat.fail_next(
        {"errcode": -1},
        {"http_status": 500},
        {"errcode": 45009},
        {"errcode": 40001},
        {"delay_ms": 300},
        {"errcode": 42001},
        {"http_status": 502},
    )

    rounds = 0
    while OutboxMessage.objects.filter(status=S.PENDING).exists() and rounds < 5:
        outbox_dispatch_due()
        # Time passes: the retries' backoff is over.
        OutboxMessage.objects.filter(status=S.PENDING).update(next_attempt_at=timezone.now())
        rounds += 1

    received = recipients(fake_wechat)
    assert len(received) == len(set(received)) == 18
    assert set(received) == {openid_of(m) for m in members[2:]}
    rows = {r.member_id: r for r in OutboxMessage.objects.all()}
    assert (rows[unsubscribed.pk].status, rows[unsubscribed.pk].reason) == (S.FAILED, "wechat_43004")
    assert (rows[invalid.pk].status, rows[invalid.pk].reason) == (S.FAILED, "wechat_40003")
    assert Counter(r.status for r in rows.values()) == {S.SENT: 18, S.FAILED: 2}
    # -1, 500, 45009 and 502 each cost one more attempt later; token errors were refreshed and retried in place.
    assert sum(r.attempts for r in rows.values()) == 20 + 4
    assert fake_wechat.state.stable_token_fetches <= 3  # one fetch, then one refresh per token error


@pytest.mark.django_db
def test_the_quota_stops_hot_retries(fake_wechat):
    journey_with_steps("joined", {"offset": 3})
    for _ in range(5):
        reachable_member(joined_at=days_ago(3))
    journeys_materialise()
    fake_wechat.set_quota(2)

    outbox_dispatch_due()
    outbox_dispatch_due()

    assert len(fake_wechat.messages()) == 2
    waiting = OutboxMessage.objects.filter(status=S.PENDING)
    assert waiting.count() == 3
    assert all(r.next_attempt_at > timezone.now() + timedelta(minutes=30) for r in waiting)
