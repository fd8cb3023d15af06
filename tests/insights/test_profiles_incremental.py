"""The nightly refresh recomputes only what a night changed; it must leave exactly what a full recompute would.

Each test builds profiles with a full run, changes orders, refunds, members and settings the way the day
would, runs the next day's (incremental) refresh, records every profile and rule tag, then recomputes
everything from scratch and checks nothing differs.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import F

from apps.insights.models import InsightsConfig, MemberProfile, MemberTag, ProfileRefresh, Tag
from apps.insights.profiles import member_profiles_refresh
from apps.members.models import Member
from apps.members.services import member_merge
from apps.orders.models import Order, Refund
from tests.catalog.factories import CategoryFactory, ProductFactory, SkuFactory
from tests.factories import ChannelFactory, MemberFactory, StoreFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 30)
TOMORROW = TODAY + timedelta(days=1)
FIELDS = [f.attname for f in MemberProfile._meta.concrete_fields if f.attname != "is_stale"]


def _state() -> tuple[dict, set]:
    profiles = {row["member_id"]: row for row in MemberProfile.objects.values(*FIELDS)}
    tags = set(MemberTag.objects.values_list("member_id", "tag_id"))
    return profiles, tags


def _assert_same_as_full(today: date) -> tuple[dict, set]:
    incremental = _state()
    member_profiles_refresh(today=today, full=True)
    full = _state()
    assert incremental[0] == full[0]
    assert incremental[1] == full[1]
    return incremental


@pytest.fixture
def shop():
    pos = ChannelFactory(code="pos", kind="pos")
    s1, s2 = StoreFactory(code="S1"), StoreFactory(code="S2")
    razors, cream = CategoryFactory(code="razors"), CategoryFactory(code="cream")
    razor = SkuFactory(product=ProductFactory(category=razors))
    foam = SkuFactory(product=ProductFactory(category=cream))
    together = Tag.objects.create(code="whale", name="Razor and cream", kind="rule", rule="bought_together")
    together.rule_categories.set([razors, cream])
    members = [MemberFactory(joined_at=local("2025-01-01"), birthday=date(1990, 1 + n, 1)) for n in range(10)]
    for n, member in enumerate(members):
        for k in range(n % 4 + 1):
            make_order(
                channel=pos,
                member=member,
                store=s1 if k % 2 else s2,
                day=TODAY - timedelta(days=20 * k + n),
                total=f"{40 + 15 * n + k}.00",
                lines=[(razor, "10.00")] + ([(foam, "5.00")] if n % 3 == 0 else []),
            )
    # leaves the 12-month window (and the favourite-category year) between TODAY and TOMORROW
    old = make_order(
        channel=pos, member=members[1], store=s2, day=TODAY - timedelta(days=364), total="500.00", lines=[(foam, "9")]
    )
    member_profiles_refresh(today=TODAY, full=True)
    return {"pos": pos, "s1": s1, "s2": s2, "razor": razor, "foam": foam, "members": members, "old": old}


def test_a_night_with_new_orders_refunds_a_merge_and_new_members_matches_a_full_recompute(shop):
    m = shop["members"]
    spend_before = MemberProfile.objects.get(member=m[1]).spend_12m
    # a day's trade: new orders placed tomorrow, one bringing razor and cream together
    make_order(channel=shop["pos"], member=m[2], store=shop["s1"], day=TOMORROW, total="70.00",
               lines=[(shop["razor"], "40"), (shop["foam"], "30")])  # fmt: skip
    make_order(channel=shop["pos"], member=m[5], store=shop["s2"], day=TOMORROW, total="15.00", online=True)
    # a refund in full of an older order, recorded today
    refunded = Order.objects.filter(member=m[7]).order_by("placed_at").first()
    Refund.objects.create(order=refunded, external_id="r1", refund_total=refunded.total)
    Order.objects.filter(pk=refunded.pk).update(refunded_total=refunded.total)
    # m[9] bought razor and cream together in each order; every line comes back
    for whale_order in Order.objects.filter(member=m[9]):
        whale_order.lines.update(refunded_quantity=1, refunded_amount=F("total"))
        Refund.objects.create(order=whale_order, external_id="r2", refund_total=Decimal("15.00"))
        Order.objects.filter(pk=whale_order.pk).update(refunded_total=Decimal("15.00"))
    # a historic order imported late (created now, placed months ago)
    make_order(channel=shop["pos"], member=m[4], store=shop["s1"], day=TODAY - timedelta(days=90), total="33.00")
    # a merge moves m[6]'s orders (and tags) to m[3]; a member joins; one is erased; a birthday and the
    # settings change
    member_merge(survivor=m[3], merged=m[6])
    assert MemberProfile.objects.get(member=m[3]).is_stale
    newcomer = MemberFactory(joined_at=local(TOMORROW))
    Member.objects.filter(pk=m[0].pk).update(status=Member.Status.ERASED, phone=None)
    Member.objects.filter(pk=m[4].pk).update(birthday=date(1980, 12, 24))
    InsightsConfig.objects.update_or_create(pk=1, defaults={"at_risk_days": 30, "dormant_days": 60})

    result = member_profiles_refresh(today=TOMORROW)

    assert result["full"] == 0
    profiles, tags = _assert_same_as_full(TOMORROW)
    assert m[0].pk not in profiles and m[6].pk not in profiles
    assert profiles[newcomer.pk]["lifecycle_stage"] == "new"
    assert profiles[m[1].pk]["spend_12m"] == spend_before - Decimal("500.00")
    assert MemberProfile.objects.get(member=m[4]).birthday_month == 12
    assert not MemberProfile.objects.filter(is_stale=True).exists()
    whale = Tag.objects.get(code="whale")
    assert (m[2].pk, whale.pk) in tags and (m[9].pk, whale.pk) not in tags


def test_a_merge_flags_the_survivors_profile(shop):
    survivor, merged = shop["members"][0], MemberFactory()
    member_merge(survivor=survivor, merged=merged)
    assert MemberProfile.objects.get(member=survivor).is_stale
    result = member_profiles_refresh(today=TODAY)
    assert result["full"] == 0 and not MemberProfile.objects.filter(is_stale=True).exists()


def test_a_quiet_night_writes_only_the_rows_whose_values_change(shop):
    again = member_profiles_refresh(today=TODAY)
    assert again["full"] == 0 and again["changed"] == 0


def test_a_changed_rule_definition_recomputes_that_tag_for_everybody(shop):
    whale = Tag.objects.get(code="whale")
    before = set(MemberTag.objects.filter(tag=whale).values_list("member_id", flat=True))
    whale.rule_categories.set([shop["razor"].product.category])  # now: bought a razor
    result = member_profiles_refresh(today=TOMORROW)
    assert result["full"] == 0
    after = set(MemberTag.objects.filter(tag=whale).values_list("member_id", flat=True))
    assert after > before and after == {m.pk for m in shop["members"]}
    _assert_same_as_full(TOMORROW)


def test_t_is_the_evaluation_date_less_the_first_purchase_day(shop):
    member = shop["members"][3]
    first = MemberProfile.objects.get(member=member).first_purchase_on
    member_profiles_refresh(today=TOMORROW)
    assert ProfileRefresh.objects.get().computed_on == TOMORROW
    via_manager = MemberProfile.objects.get(member=member)
    via_relation = Member.objects.get(pk=member.pk).insight_profile
    for profile in (via_manager, via_relation):
        assert (TOMORROW - first).days == profile.T
        assert profile.computed_on == TOMORROW
