"""The win-back trigger 'P(alive) fell below N%': members the weekly fit moved below the line, once each."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.models import OutboxMessage
from apps.insights.clv.models import MemberClv
from apps.insights.clv.services import clv_fit
from apps.members.models import Consent, Identity
from tests.factories import ChannelFactory
from tests.insights.clv_population import populate

from .factories import journey_with_steps


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5
    settings.CAMPAIGN_MAX_PER_WEEK = 10


@pytest.mark.django_db
def test_members_whose_p_alive_fell_below_the_line_get_the_touch_once(fake_wechat):
    today = timezone.localdate()
    members = populate(channel=ChannelFactory(code="pos"), members=250, end=today - timedelta(days=1), seed=21)
    Identity.objects.bulk_create([Identity(member=m, kind="wechat_openid", value=f"oP{m.pk:08d}") for m in members])
    Consent.objects.bulk_create(
        [Consent(member=m, channel="wechat", granted=True, changed_at=timezone.now()) for m in members]
    )
    clv_fit(as_of=today - timedelta(days=60))
    clv_fit(as_of=today)
    journey_with_steps("p_alive_below", {"offset": 0}, code="slipping", trigger_days=50)
    fell = set(MemberClv.objects.filter(p_alive__lt=0.5, p_alive_before__gte=0.5).values_list("member_id", flat=True))
    already_below = MemberClv.objects.filter(p_alive__lt=0.5, p_alive_before__lt=0.5).count()
    assert fell and already_below  # both kinds are there: only the first is touched

    journeys_materialise()
    journeys_materialise()

    rows = OutboxMessage.objects.all()
    assert sorted(r.member_id for r in rows) == sorted(fell)
    assert {r.payload["occurred_on"] for r in rows} == {str(today)}
