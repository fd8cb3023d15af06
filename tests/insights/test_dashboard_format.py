"""The KPI dashboard reads as people read figures: percentages, money with its symbol, charts titled with units,
and the last complete month by default."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.core.dates import last_complete_month
from apps.insights.kpis import kpi_aggregates_refresh
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, TierFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales():
    pos = ChannelFactory(code="pos", kind="pos")
    s1 = StoreFactory(code="S1")
    member = MemberFactory(joined_at=local("2026-04-01"), join_store=s1, tier=TierFactory(code="gold", name="Gold"))
    make_order(channel=pos, member=member, store=s1, day="2026-05-02", total="1280.00")
    make_order(channel=pos, store=s1, day="2026-05-03", total="20.00")
    make_order(channel=pos, store=s1, day="2026-05-04", total="20.00")
    kpi_aggregates_refresh(now=local("2026-05-20"))


def test_ratios_are_percentages_and_money_has_its_symbol(admin_client, sales):
    page = admin_client.get("/admin/insights/kpimonth/", {"month": "2026-05"}).content.decode()

    assert "33.3%" in page  # 1 of 3 orders by a member
    assert "97.0%" in page  # member share of sales: 1280 of 1320
    assert "0.3333" not in page
    assert "¥1,280.00" in page  # the members' average order value


def test_each_trend_chart_has_a_title_with_its_unit(admin_client, sales):
    page = admin_client.get("/admin/insights/kpimonth/", {"month": "2026-05"}).content.decode()

    for title in (
        "<figcaption>Member share of transactions (% of orders)</figcaption>",
        "<figcaption>Active members (members with an order)</figcaption>",
        "<figcaption>Average order value (¥ per member order)</figcaption>",
        "<figcaption>Churn rate (% of last year&#x27;s buyers)</figcaption>",
    ):
        assert title in page


def test_the_dashboard_opens_on_the_last_complete_month_with_this_month_a_click_away(admin_client):
    response = admin_client.get("/admin/insights/kpimonth/")

    assert response.context["month_text"] == f"{last_complete_month():%Y-%m}"
    assert f"month={timezone.localdate():%Y-%m}" in response.content.decode()
    current = admin_client.get("/admin/insights/kpimonth/", {"month": f"{timezone.localdate():%Y-%m}"})
    assert "This month to date: its figures are not final." in current.content.decode()


def test_the_dashboard_in_chinese(admin_client, sales):
    admin_client.cookies["django_language"] = "zh-hans"

    page = admin_client.get("/admin/insights/kpimonth/", {"month": "2026-05"}).content.decode()

    assert "会员交易占比（占订单的 %）" in page
    assert "33.3%" in page and "¥1,280.00" in page
