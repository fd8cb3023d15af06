"""The console home's sending status: paused or not, how many messages wait, and whether WeChat's daily quota is
holding messages back (read from the outbox as the dispatcher leaves it)."""

from __future__ import annotations

import pytest

from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.selectors import sending_status
from apps.campaigns.services import outbox_dispatch_due, sending_pause
from tests.campaigns.factories import days_ago, journey_with_steps, reachable_member

pytestmark = pytest.mark.django_db


def test_a_reached_quota_shows_as_holding_messages(fake_wechat, settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"  # no quiet hours: whatever the time of the run, only the quota holds
    journey_with_steps("joined", {"offset": 3})
    for _ in range(5):
        reachable_member(joined_at=days_ago(3))
    journeys_materialise()
    before = sending_status()
    fake_wechat.set_quota(2)

    outbox_dispatch_due()

    after = sending_status()
    assert (before["waiting"], before["held_by_quota"]) == (5, False)
    assert (after["waiting"], after["held_by_quota"]) == (0, True)  # three wait an hour for the quota


def test_the_pause_and_its_reason_show():
    sending_pause(reason="Holiday freeze")

    status = sending_status()

    assert (status["is_paused"], status["reason"]) == (True, "Holiday freeze")
