"""KPIs from the aggregates, against a small data set computed by hand (see ``world``).

May 2026, everything: counted orders 4 (A 2 on one day, B 1, a walk-in 1; B's second order and a
walk-in's were refunded in full), member orders 3; net sales 150 + 150 + 300 = 600, members' 300,
new members' (B joined in May) 150.
  member share of transactions 3/4 = 0.75; of sales 300/600 = 0.5
  active members 2 (A, B); purchase frequency 3/2 = 1.50; AOV 300/3 = 100.00
  12 months 2025-06..2026-05: A 4 orders (250), B 1 (150) -> annual contribution 400/2 = 200.00,
  repurchase rate 1/2 (A)
  churn: bought 2025-05..2026-04: A, C; C's last purchase is 2025-05 -> 1/2
  members by the end of May 4 (E was erased), reachable 1 (C: openid + WeChat consent; D has no consent)
  -> 0.25; recruited in May 2 (B, D)
Store S1 in May: orders 3 (A 2, walk-in 1), member 2; sales 450, members' 150; members who joined at
S1: A, C, D -> reachable 1/3; recruited 1 (D).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from apps.insights.kpis import (
    KpiScope,
    cohort_table,
    kpi_aggregates_refresh,
    kpi_month_figures,
    kpi_trend,
    people_month,
    tier_distribution,
)
from apps.members.models import Consent, Identity, Member
from apps.orders.models import Order, Refund
from tests.factories import ChannelFactory, MemberFactory, StaffFactory, StoreFactory, TierFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db
NOW = local("2026-06-10")
MAY = date(2026, 5, 1)


@pytest.fixture
def world():
    pos, mall = ChannelFactory(code="pos", kind="pos"), ChannelFactory(code="mall", kind="mall")
    s1, s2 = StoreFactory(code="S1"), StoreFactory(code="S2")
    guide = StaffFactory(code="G1")
    gold = TierFactory(code="gold", rank=5)
    a = MemberFactory(joined_at=local("2025-03-15"), join_store=s1, join_channel=pos, tier=gold)
    b = MemberFactory(joined_at=local("2026-05-10"), join_store=s2, join_channel=mall)
    c = MemberFactory(joined_at=local("2025-01-05"), join_store=s1, join_channel=pos)
    d = MemberFactory(joined_at=local("2026-05-20"), join_store=s1, join_channel=pos, recruited_by=guide)
    MemberFactory(joined_at=local("2024-12-01"), status=Member.Status.ERASED, phone=None)
    Identity.objects.create(member=c, kind="wechat_openid", value="oC")
    Consent.objects.create(member=c, channel="wechat", granted=True, changed_at=c.joined_at)
    Identity.objects.create(member=d, kind="wechat_openid", value="oD")
    make_order(channel=pos, member=c, store=s1, day="2025-05-03", total="100.00")
    make_order(channel=pos, member=a, store=s1, day="2025-06-01", total="40.00")
    make_order(channel=pos, member=a, store=s1, day="2026-04-02", total="60.00")
    make_order(channel=pos, member=a, store=s1, day="2026-05-04", total="100.00", guide=guide)
    make_order(channel=pos, member=a, store=s1, day="2026-05-04", total="50.00")
    make_order(channel=mall, member=b, store=s2, day="2026-05-12", total="200.00", refunded="50.00", online=True)
    make_order(channel=mall, member=b, store=s2, day="2026-05-13", total="80.00", refunded="80.00", online=True)
    make_order(channel=pos, store=s1, day="2026-05-20", total="300.00")
    make_order(channel=pos, store=s2, day="2026-05-21", total="100.00", refunded="100.00")
    return {"pos": pos, "mall": mall, "s1": s1, "s2": s2, "a": a, "b": b, "guide": guide}


def _values(scope: KpiScope) -> dict:
    return {name: f["value"] for name, f in kpi_month_figures(scope=scope)["figures"].items()}


def test_every_figure_for_the_whole_business(world):
    kpi_aggregates_refresh(now=NOW)
    v = _values(KpiScope(month=MAY))
    assert v == {
        "member_share_of_transactions": Decimal("0.7500"),
        "member_share_of_sales": Decimal("0.5000"),
        "reachable_share": Decimal("0.2500"),
        "active_members": 2,
        "purchase_frequency": Decimal("1.50"),
        "average_order_value": "100.00",
        "annual_contribution_per_member": "200.00",
        "repurchase_rate": Decimal("0.5000"),
        "churn_rate": Decimal("0.5000"),
        "new_member_sales": "150.00",
        "returning_member_sales": "150.00",
        "recruited": 2,
    }


def test_figures_for_one_store_and_one_channel(world):
    kpi_aggregates_refresh(now=NOW)
    s1 = _values(KpiScope(month=MAY, store_id=world["s1"].pk))
    assert s1["member_share_of_transactions"] == Decimal("0.6667")
    assert s1["member_share_of_sales"] == Decimal("0.3333")
    assert s1["active_members"] == 1 and s1["reachable_share"] == Decimal("0.3333") and s1["recruited"] == 1
    mall = _values(KpiScope(month=MAY, channel_id=world["mall"].pk))
    assert mall["member_share_of_transactions"] == Decimal("1.0000") and mall["new_member_sales"] == "150.00"
    assert mall["average_order_value"] == "150.00"


def test_a_month_without_orders_has_no_ratios(world):
    kpi_aggregates_refresh(now=NOW)
    v = _values(KpiScope(month=date(2026, 3, 1)))
    assert v["active_members"] == 0 and v["member_share_of_transactions"] is None and v["average_order_value"] is None


def test_every_figure_states_its_definition(world):
    kpi_aggregates_refresh(now=NOW)
    figures = kpi_month_figures(scope=KpiScope(month=MAY))["figures"]
    assert all(f["definition"] for f in figures.values())


def test_trend_tiers_cohorts_and_people(world, django_assert_max_num_queries):
    kpi_aggregates_refresh(now=NOW)
    with django_assert_max_num_queries(1):
        trend = kpi_trend(scope=KpiScope(month=MAY), months=3)
    assert [(m, f["active_members"]) for m, f in trend] == [
        (date(2026, 3, 1), 0),
        (date(2026, 4, 1), 1),
        (date(2026, 5, 1), 2),
    ]
    tiers = {t["tier"]: t["members"] for t in tier_distribution()}
    assert tiers["Gold"] == 1 and tiers["No tier"] == 3
    may_cohort = next(r for r in cohort_table() if r["cohort"] == MAY)
    assert may_cohort["size"] == 2 and may_cohort["cells"][0] == Decimal("0.5000")  # B of B, D
    people = people_month(month=MAY)
    guide = people["guides"][0]
    assert (guide["guide__code"], guide["recruited"], guide["orders"], guide["sales"]) == ("G1", 1, 1, Decimal("100"))
    s1 = next(s for s in people["stores"] if s["store__code"] == "S1")
    assert (s1["recruited"], s1["orders"], s1["sales"]) == (1, 3, Decimal("450.00"))


def test_a_later_refund_is_folded_in_and_a_quiet_run_touches_nothing(world):
    first = kpi_aggregates_refresh()
    assert first["order_months"] == 4
    order = Order.objects.get(member=world["b"], total=Decimal("200.00"))
    Order.objects.filter(pk=order.pk).update(refunded_total=Decimal("200.00"), status="refunded")
    Refund.objects.create(order=order, external_id="r1", refund_total=Decimal("150.00"))
    again = kpi_aggregates_refresh()
    assert again["order_months"] == 1
    v = _values(KpiScope(month=MAY))
    assert (
        v["active_members"] == 1 and v["new_member_sales"] == "0.00" and v["member_share_of_sales"] == Decimal("0.3333")
    )
    assert kpi_aggregates_refresh()["order_months"] == 0


def test_a_merge_is_folded_in_by_the_next_hourly_run(world):
    from apps.members.services import member_merge

    kpi_aggregates_refresh()
    assert _values(KpiScope(month=MAY))["active_members"] == 2  # A and B
    member_merge(survivor=world["a"], merged=world["b"])  # B's May orders are A's now: one member bought

    again = kpi_aggregates_refresh()

    assert again["order_months"] == 3  # the months A or B bought in, not every month
    after = _values(KpiScope(month=MAY))
    assert after["active_members"] == 1
    assert after["purchase_frequency"] == Decimal("3.00")
    assert after["new_member_sales"] == "0.00"  # B's orders belong to A, who joined in 2025
    kpi_aggregates_refresh(full=True)
    assert _values(KpiScope(month=MAY)) == after  # the same as rebuilding everything
    assert kpi_aggregates_refresh()["order_months"] == 0
