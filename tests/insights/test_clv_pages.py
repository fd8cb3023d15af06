"""The clerk's member page says in words how likely the member is to buy again (not the raw probability)."""

from datetime import date

import pytest

from apps.insights.clv.models import MemberClv, likely_to_buy
from apps.insights.clv.services import clv_fit
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import ChannelFactory, StoreFactory
from tests.insights.clv_population import populate

pytestmark = pytest.mark.django_db
END = date(2026, 6, 30)


def test_the_clerk_page_shows_likely_to_buy_again_after_a_fit(client):
    store = StoreFactory(code="SH001")
    staff = staff_create(
        code="C1", name="Clerk", role=Staff.Role.CLERK, username="c1", password="pw-for-tests-1", stores=[store]
    )
    client.force_login(staff.user)
    members = populate(channel=ChannelFactory(code="pos"), members=250, end=END, seed=31)
    member = members[0]
    member.join_store = store
    member.save(update_fields=["join_store"])
    url = f"/store/members/{member.code}/tags/"
    assert 'data-testid="likely-to-buy"' not in client.get(url).content.decode()

    clv_fit(as_of=END)

    row = MemberClv.objects.get(member=member)
    word = likely_to_buy(row.expected_purchases_365d)
    page = client.get(url).content.decode()
    assert f"Likely to buy again: <strong>{word}</strong>" in page
    assert f"{row.p_alive:.2f}" not in page
    # the three words cover the population
    words = {likely_to_buy(v) for v in MemberClv.objects.values_list("expected_purchases_365d", flat=True)}
    assert words == {"high", "medium", "low"}
