"""The console's home: the last complete month against the one before, today so far, sending and jobs, and a
navigation grouped by what operators do."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from apps.campaigns.services import sending_pause
from apps.core.dates import last_complete_month
from apps.core.services import heartbeat_record
from apps.insights.kpis import kpi_aggregates_refresh
from apps.members.services import member_register
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import ChannelFactory, StoreFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    staff = staff_create(code="HQ1", name="Op", role=Staff.Role.HQ_OPERATOR, username="op", password="pw-for-tests-1")
    client.force_login(staff.user)
    return staff


@pytest.mark.parametrize(
    ("today", "month"),
    [
        (date(2026, 12, 4), date(2026, 11, 1)),
        (date(2026, 1, 31), date(2025, 12, 1)),
        (date(2026, 3, 1), date(2026, 2, 1)),
    ],
)
def test_the_last_complete_month_is_the_one_before_today(today, month):
    assert last_complete_month(today) == month


def test_home_shows_the_last_complete_month_against_the_one_before(client, operator):
    channel, store = ChannelFactory(code="pos", kind="pos"), StoreFactory(code="S001")
    last = last_complete_month()
    before = last_complete_month(last)
    member, _ = member_register(phone="13812348000", name="Li Na", at=local(before - timedelta(days=40)))
    # the month before: 1 of 4 orders by a member (25.0%); last month: 1 of 2 (50.0%)
    make_order(channel=channel, store=store, day=before + timedelta(days=3), total="100.00", member=member)
    for i in range(3):
        make_order(channel=channel, store=store, day=before + timedelta(days=4 + i), total="100.00")
    make_order(channel=channel, store=store, day=last + timedelta(days=3), total="1234.50", member=member)
    make_order(channel=channel, store=store, day=last + timedelta(days=4), total="100.00")
    kpi_aggregates_refresh(full=True)

    page = client.get("/admin/").content.decode()

    assert f"{last:%Y-%m}, the last complete month (change from {before:%Y-%m})" in page
    assert "50.0%" in page and "+25.0 pts" in page  # member share of transactions, and its rise
    assert "¥1,234.50" in page  # members' average order value


def test_home_works_on_an_empty_database(client, operator):
    response = client.get("/admin/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "No figures for this month yet" in page
    assert "none yet: is beat running?" in page


def test_home_shows_today_sending_and_jobs(client, operator):
    channel, store = ChannelFactory(code="pos", kind="pos"), StoreFactory(code="S001")
    make_order(channel=channel, store=store, day=timezone.localdate(), total="1234.50")
    member_register(phone="13812348000", name="Li Na")
    sending_pause(reason="Holiday freeze")
    heartbeat_record()

    response = client.get("/admin/")

    page = response.content.decode()
    assert response.context["today_sales"]["orders"] == 1 and "¥1,234.50" in page
    assert response.context["today_recruits"] == 1
    assert "Paused" in page and "Holiday freeze" in page
    assert "Heartbeat “beat”" in page
    assert "/admin/orders/order/sales/" in page  # the sales report is linked


def test_navigation_is_grouped_by_what_operators_do_with_system_last(client, operator):
    app_list = client.get("/admin/").context["app_list"]

    groups = [str(app["name"]) for app in app_list]
    assert groups[0] == "Members" and groups[-1] == "System"
    assert groups.index("Loyalty") < groups.index("Campaigns") < groups.index("Insights") < groups.index("Catalog")
    by_group = {str(app["name"]): [m["object_name"] for m in app["models"]] for app in app_list}
    assert by_group["Members"][0] == "Member" and "MemberTag" in by_group["Members"]
    assert "orders_order_sales" in by_group["Orders"]  # the sales-by-store-and-guide report


def test_superusers_see_developer_tables_only_under_system(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", password="pw-for-tests-1")
    client.force_login(admin_user)

    by_group = {
        str(app["name"]): [m["object_name"] for m in app["models"]] for app in client.get("/admin/").context["app_list"]
    }

    assert {"Heartbeat", "PeriodicTask", "AccessLog", "User"} <= set(by_group["System"])
    others = {name for group, names in by_group.items() if group != "System" for name in names}
    assert not others & {"Heartbeat", "PeriodicTask", "CrontabSchedule", "AccessLog", "AccessAttempt", "User", "Group"}


def test_home_costs_a_fixed_number_of_queries(client, operator, django_assert_max_num_queries):
    channel, store = ChannelFactory(code="pos", kind="pos"), StoreFactory(code="S001")
    for i in range(20):
        make_order(channel=channel, store=store, day=timezone.localdate(), total=f"{10 + i}.00")
    client.get("/admin/")

    with django_assert_max_num_queries(20):
        client.get("/admin/")
