"""The "card balance falls below X" trigger and the {balance} content variable."""

from decimal import Decimal

import pytest
from django.db import transaction

from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.models import OutboxMessage
from apps.campaigns.services import outbox_dispatch_due
from apps.loyalty.wallet.services import wallet_pay_in_transaction, wallet_recharge

from .factories import journey_with_steps, openid_of, reachable_member


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5
    settings.CAMPAIGN_MAX_PER_WEEK = 10


def _pay(member, amount, key):
    with transaction.atomic():
        wallet_pay_in_transaction(member_id=member.pk, amount=Decimal(amount), reference="t", idempotency_key=key)


@pytest.mark.django_db
def test_balance_below_touches_the_member_whose_payment_crossed_it_once(fake_wechat):
    journey_with_steps(
        "balance_below", {"offset": 0, "content": "thing1: {balance} left"}, code="low", trigger_amount=Decimal("50")
    )
    crossed = reachable_member(name="Li Na")
    still_high = reachable_member()
    for member in (crossed, still_high):
        wallet_recharge(member=member, amount="100", payment_method="cash", idempotency_key=f"r{member.pk}")
    _pay(crossed, "60", "p1")  # 100 -> 40: crossed 50
    _pay(crossed, "10", "p2")  # 40 -> 30: already below, not another crossing
    _pay(still_high, "40", "p3")  # 100 -> 60

    assert journeys_materialise() == {"low": 1}
    assert journeys_materialise() == {"low": 0}
    assert OutboxMessage.objects.get().member_id == crossed.pk
    outbox_dispatch_due()
    [message] = fake_wechat.messages()
    assert message["to"][0] == openid_of(crossed)
    assert message["body"]["data"] == {"thing1": {"value": "30.00 left"}}
