"""Computed tags and BTYD measures, checked against small data sets computed by hand.

Evaluation date 2026-06-30 (Asia/Shanghai business days).
  A: 01-10 100 + 01-10 50 (one day, two orders, store S1), 03-01 200 online (S2), 06-01 60 (S1)
     -> purchase days 01-10 (150), 03-01 (200), 06-01 (60): frequency 2, recency 142, T 171,
        monetary_value (200 + 60) / 2 = 130.00; 4 orders, net 410, AOV 102.50; omnichannel; favourite S1.
  B: one order 06-20 at 23:30 local (15:30 UTC), 80 -> frequency 0, recency 0, T 10, monetary 0; new.
  C: 02-01 100 refunded in full (not a purchase), 02-05 300 with 100 refunded -> one purchase day
     (02-05, 200): frequency 0, T 145; idle 145 days -> at risk.
  D: no orders, joined 2025-01-01 -> idle 545 days -> churned; no RFM.
  E: no orders, joined 2026-06-25 -> new.
RFM over A, B, C (score = 1 + floor(5 x percent rank), ties share the lower score):
  recency (last day): C 02-05 -> 1, A 06-01 -> 3, B 06-20 -> 5
  frequency (days):   B 1, C 1 -> 1, A 3 -> 5
  monetary (net):     B 80 -> 1, C 200 -> 3, A 410 -> 5
  segments: A (R3 F5) loyal, B (R5 F1) new, C (R1 F1) hibernating.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from apps.insights.models import InsightsConfig, MemberProfile, MemberTag, Tag
from apps.insights.profiles import member_profiles_refresh
from apps.members.models import Member
from tests.catalog.factories import CategoryFactory, ProductFactory, SkuFactory
from tests.factories import ChannelFactory, MemberFactory, StoreFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 30)


@pytest.fixture
def world():
    pos = ChannelFactory(code="pos", kind="pos")
    mall = ChannelFactory(code="mall", kind="mall")
    s1, s2 = StoreFactory(code="S1"), StoreFactory(code="S2")
    joined = local("2025-12-01")
    a = MemberFactory(joined_at=joined, birthday=date(1990, 3, 14))
    b = MemberFactory(joined_at=joined)
    c = MemberFactory(joined_at=joined)
    d = MemberFactory(joined_at=local("2025-01-01"))
    e = MemberFactory(joined_at=local("2026-06-25"))
    make_order(channel=pos, member=a, store=s1, day="2026-01-10", total="100.00")
    make_order(channel=pos, member=a, store=s1, day="2026-01-10", total="50.00", at=time(18, 0))
    make_order(channel=mall, member=a, store=s2, day="2026-03-01", total="200.00", online=True)
    make_order(channel=pos, member=a, store=s1, day="2026-06-01", total="60.00")
    make_order(channel=pos, member=b, store=s2, day="2026-06-20", total="80.00", at=time(23, 30))
    make_order(channel=pos, member=c, store=s1, day="2026-02-01", total="100.00", refunded="100.00")
    make_order(channel=pos, member=c, store=s1, day="2026-02-05", total="300.00", refunded="100.00")
    make_order(channel=pos, day="2026-06-01", total="999.00", store=s1)  # not a member's
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "s1": s1, "s2": s2}


def _profile(member) -> MemberProfile:
    return MemberProfile.objects.get(member=member)


def test_btyd_measures_by_hand(world):
    result = member_profiles_refresh(today=TODAY)
    assert result["profiles"] == 5
    a, b, c, d = (_profile(world[k]) for k in "abcd")
    assert (a.frequency, a.recency, a.T, a.monetary_value) == (2, 142, 171, Decimal("130.00"))
    assert (b.frequency, b.recency, b.T, b.monetary_value) == (0, 0, 10, Decimal("0.00"))
    assert (c.frequency, c.recency, c.T, c.monetary_value) == (0, 0, 145, Decimal("0.00"))
    assert (d.frequency, d.recency, d.T, d.monetary_value, d.orders) == (0, 0, 0, Decimal("0.00"), 0)
    assert (a.orders, a.purchase_days, a.net_spend, a.average_order_value) == (
        4,
        3,
        Decimal("410.00"),
        Decimal("102.50"),
    )
    assert (c.orders, c.net_spend, c.first_purchase_on) == (1, Decimal("200.00"), date(2026, 2, 5))
    assert b.first_purchase_on == date(2026, 6, 20)  # 23:30 local is still the 20th


def test_rfm_scores_and_segments_by_hand(world):
    member_profiles_refresh(today=TODAY)
    a, b, c, d = (_profile(world[k]) for k in "abcd")
    assert (a.recency_score, a.frequency_score, a.monetary_score, a.rfm_segment) == (3, 5, 5, "loyal")
    assert (b.recency_score, b.frequency_score, b.monetary_score, b.rfm_segment) == (5, 1, 1, "new")
    assert (c.recency_score, c.frequency_score, c.monetary_score, c.rfm_segment) == (1, 1, 3, "hibernating")
    assert (d.recency_score, d.rfm_segment) == (None, "")


def test_lifecycle_stages_follow_the_configured_days(world):
    member_profiles_refresh(today=TODAY)
    stages = {k: _profile(world[k]).lifecycle_stage for k in "abcde"}
    assert stages == {"a": "active", "b": "new", "c": "at_risk", "d": "churned", "e": "new"}
    InsightsConfig.objects.update_or_create(pk=1, defaults={"at_risk_days": 20, "dormant_days": 100})
    member_profiles_refresh(today=TODAY)
    stages = {k: _profile(world[k]).lifecycle_stage for k in "abcde"}
    assert stages == {"a": "at_risk", "b": "new", "c": "dormant", "d": "churned", "e": "new"}


def test_habits_bands_favourites_and_birthday(world):
    member_profiles_refresh(today=TODAY)
    a, b, c, d = (_profile(world[k]) for k in "abcd")
    assert (a.channel_habit, b.channel_habit, d.channel_habit) == ("omnichannel", "in_store_only", "")
    assert (a.power_band, b.power_band, c.power_band, d.power_band) == ("medium", "low", "medium", "")
    assert a.favourite_store == world["s1"] and b.favourite_store == world["s2"]
    assert (a.birthday_month, b.birthday_month) == (3, None)


def test_equally_frequent_stores_favour_the_first_created_and_a_refunded_order_does_not_count(world):
    pos = ChannelFactory(code="pos")
    g = MemberFactory(joined_at=local("2026-01-01"))
    s1, s2 = world["s1"], world["s2"]  # s1 has the smaller id
    make_order(channel=pos, member=g, store=s2, day="2026-04-01", total="10.00")
    make_order(channel=pos, member=g, store=s1, day="2026-04-02", total="10.00")
    member_profiles_refresh(today=TODAY, full=True)
    assert _profile(g).favourite_store == s1
    make_order(channel=pos, member=g, store=s2, day="2026-04-03", total="10.00", refunded="10.00")
    member_profiles_refresh(today=TODAY, full=True)
    assert _profile(g).favourite_store == s1  # the refunded order is not a purchase
    make_order(channel=pos, member=g, store=s2, day="2026-04-04", total="10.00")
    member_profiles_refresh(today=TODAY, full=True)
    assert _profile(g).favourite_store == s2
    h = MemberFactory(joined_at=local("2026-01-01"))  # the same tie, the other way round: not the latest store
    make_order(channel=pos, member=h, store=s1, day="2026-04-01", total="10.00")
    make_order(channel=pos, member=h, store=s2, day="2026-04-02", total="10.00")
    member_profiles_refresh(today=TODAY, full=True)
    assert _profile(h).favourite_store == s1


def test_favourite_category_and_online_only(world):
    mall = ChannelFactory(code="mall")
    razors, cream = CategoryFactory(code="razors"), CategoryFactory(code="cream")
    razor = SkuFactory(product=ProductFactory(category=razors))
    foam = SkuFactory(product=ProductFactory(category=cream))
    f = MemberFactory(joined_at=local("2026-01-01"))
    make_order(channel=mall, member=f, day="2026-05-01", total="30.00", online=True, lines=[(razor, "30.00")])
    make_order(
        channel=mall, member=f, day="2026-05-02", total="50.00", online=True, lines=[(foam, "20.00"), (foam, "30.00")]
    )
    member_profiles_refresh(today=TODAY)
    p = _profile(f)
    assert p.favourite_category == cream and p.channel_habit == "online_only" and p.favourite_store is None


def test_rule_tags_bought_together_and_tagged_never_bought(world):
    pos = ChannelFactory(code="pos")
    razors, cream = CategoryFactory(code="razors"), CategoryFactory(code="cream")
    razor = SkuFactory(product=ProductFactory(category=razors))
    foam = SkuFactory(product=ProductFactory(category=cream))
    whale, separate, fan, buyer_fan = (MemberFactory() for _ in range(4))
    make_order(channel=pos, member=whale, day="2026-05-01", total="50.00", lines=[(razor, "30.00"), (foam, "20.00")])
    make_order(channel=pos, member=separate, day="2026-05-01", total="30.00", lines=[(razor, "30.00")])
    make_order(channel=pos, member=separate, day="2026-05-02", total="20.00", lines=[(foam, "20.00")])
    make_order(channel=pos, member=buyer_fan, day="2026-05-02", total="20.00", lines=[(razor, "30.00")])
    together = Tag.objects.create(code="whale", name="Razor and cream", kind="rule", rule="bought_together")
    together.rule_categories.set([razors, cream])
    liked = Tag.objects.create(code="liked", name="Liked")
    for m in (fan, buyer_fan):
        MemberTag.objects.create(member=m, tag=liked, assigned_at=local("2026-01-01"))
    fans = Tag.objects.create(code="fan", name="Fan", kind="rule", rule="tagged_never_bought", rule_tag=liked)
    fans.rule_categories.set([razors])
    stale = MemberTag.objects.create(member=separate, tag=together, assigned_at=local("2026-01-01"))
    member_profiles_refresh(today=TODAY)
    assert set(MemberTag.objects.filter(tag=together).values_list("member_id", flat=True)) == {whale.pk}
    assert not MemberTag.objects.filter(pk=stale.pk).exists()
    assert set(MemberTag.objects.filter(tag=fans).values_list("member_id", flat=True)) == {fan.pk}


def test_erased_members_lose_their_profile(world):
    member_profiles_refresh(today=TODAY)
    Member.objects.filter(pk=world["d"].pk).update(status=Member.Status.ERASED, phone=None)
    member_profiles_refresh(today=TODAY)
    assert not MemberProfile.objects.filter(member=world["d"]).exists()
    assert MemberProfile.objects.count() == 4


def test_refresh_is_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    member_profiles_refresh(today=TODAY)
    for _ in range(30):
        MemberFactory()
    with django_assert_max_num_queries(32):  # whatever the number of members
        member_profiles_refresh(today=TODAY)
    assert MemberProfile.objects.count() == 35


def test_a_deleted_members_profile_goes_with_them(world):
    member_profiles_refresh(today=TODAY)
    e = world["e"]  # no orders, nothing that protects the member
    assert MemberProfile.objects.filter(member=e).exists()
    e.delete()
    assert not MemberProfile.objects.filter(pk=e.pk).exists()
    assert MemberProfile.objects.count() == 4
