"""The console's member 360° page: what an operator reads about one member, who may read it, what it costs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.insights.models import Tag
from apps.insights.services import member_tag_add
from apps.loyalty.coupons import coupon_issue
from apps.loyalty.points import points_adjust
from apps.members.services import member_merge, member_register
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import ChannelFactory, StoreFactory, TierFactory
from tests.insights.factories import make_order
from tests.loyalty.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(db):
    return (
        TierFactory(code="silver", name="Silver", rank=1, min_annual_spend=Decimal("0")),
        TierFactory(code="gold", name="Gold", rank=2, min_annual_spend=Decimal("5000")),
    )


@pytest.fixture
def operator(client):
    staff = staff_create(code="HQ1", name="Op", role=Staff.Role.HQ_OPERATOR, username="op", password="pw-for-tests-1")
    client.force_login(staff.user)
    return staff


@pytest.fixture
def shop(db):
    return StoreFactory(code="S001", name="People's Square"), ChannelFactory(code="pos", name="Store POS", kind="pos")


def _url(member) -> str:
    return f"/admin/members/member/{member.pk}/360/"


def _orders(member, shop, n: int, *, start_days_ago: int = 60) -> None:
    store, channel = shop
    for i in range(n):
        day = timezone.localdate() - timedelta(days=start_days_ago - i % 50)
        make_order(channel=channel, day=day, total=f"{1000 + i}.50", member=member, store=store)


def test_the_360_page_shows_orders_points_coupons_tags_and_history(client, operator, tiers, shop):
    member, _ = member_register(phone="13812348000", name="Li Na")
    _orders(member, shop, 2)
    points_adjust(
        member_id=member.pk, points=1200, reason="Welcome back gift", user=operator.user, idempotency_key="k1"
    )
    coupon_issue(template=CouponTemplateFactory(code="ten-off", name="Ten off"), member=member)
    Tag.objects.create(code="vip-tea", name="Tea lover")
    member_tag_add(member=member, tag_code="vip-tea", by=operator.user)

    page = client.get(_url(member)).content.decode()

    assert member.code in page and "Li Na" in page
    assert "138****8000" in page
    assert "Silver" in page and "Gold" in page  # the tier and the next one to reach
    assert "1,200" in page  # points balance, with a thousands separator
    assert "¥1,001.50" in page and "Store POS" in page and "People&#x27;s Square" in page  # order, channel, store
    assert "Welcome back gift" in page and "op" in page  # the adjustment, in the ledger and the audit
    assert "Ten off" in page
    assert "Tea lover" in page
    assert "Edit details" in page and f"/admin/members/member/{member.pk}/change/" in page
    assert f"/admin/loyalty/pointsentry/adjust/?member={member.code}" in page


def test_orders_are_newest_first_and_capped_with_a_link_to_all(client, operator, tiers, shop):
    member, _ = member_register(phone="13812348000", name="Li Na")
    _orders(member, shop, 25)

    response = client.get(_url(member))

    placed = [o.placed_at for o in response.context["orders"]]
    assert len(placed) == 20 and placed == sorted(placed, reverse=True)
    assert f"/admin/orders/order/?q={member.code}" in response.content.decode()


def test_a_merge_shows_on_both_members(client, operator, tiers):
    survivor, _ = member_register(phone="13812348000", name="Li Na")
    merged, _ = member_register(phone="13912348000", name="Li Na (old card)")
    member_merge(survivor=survivor, merged=merged, operator=operator.user)

    survivor_page = client.get(_url(survivor)).content.decode()
    merged_page = client.get(_url(merged)).content.decode()

    assert f"{merged.code} merged into {survivor.code}" in survivor_page
    assert f"/admin/members/member/{survivor.pk}/360/" in merged_page  # the old card points to the survivor


def test_the_full_phone_needs_the_permission(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")
    assert "+8613812348000" in client.get(_url(member)).content.decode()

    operator.user.groups.clear()
    operator.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members").exclude(codename="view_full_phone")
    )
    page = client.get(_url(member)).content.decode()
    assert "138****8000" in page and "13812348000" not in page


def test_without_the_member_view_permission_the_page_is_refused(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")
    operator.user.groups.clear()
    operator.user.user_permissions.set(Permission.objects.filter(content_type__app_label="orders"))

    assert client.get(_url(member)).status_code == 403


def test_the_member_list_opens_the_360_page(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")

    listing = client.get("/admin/members/member/", {"q": "138 1234 8000"}).content.decode()

    assert f'href="/admin/members/member/{member.pk}/360/' in listing


def test_adjust_points_opens_with_the_member_filled_in(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")

    form = client.get(f"/admin/loyalty/pointsentry/adjust/?member={member.code}").content.decode()

    assert f'value="{member.code}"' in form


def test_merge_from_the_360_page_goes_through_the_merge_confirmation(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")
    other, _ = member_register(phone="13912348000", name="Li Na (old card)")

    confirm = client.get(f"/admin/members/member/{member.pk}/360/merge/", {"other": "139 1234 8000"})
    assert confirm.status_code == 200 and other.code in confirm.content.decode()

    done = client.post(
        f"/admin/members/member/{member.pk}/360/merge/",
        {
            "action": "merge_members",
            "_selected_action": [member.pk, other.pk],
            "confirm": "yes",
            "survivor": member.code,
        },
    )
    other.refresh_from_db()
    assert other.status == "merged" and other.merged_into_id == member.pk
    assert done.status_code == 302 and done["Location"] == _url(member)


def test_the_page_costs_the_same_queries_for_a_long_history(client, operator, tiers, shop, django_assert_num_queries):
    newcomer, _ = member_register(phone="13812348000", name="New")
    _orders(newcomer, shop, 1)
    regular, _ = member_register(phone="13912348000", name="Regular")
    _orders(regular, shop, 60)
    template = CouponTemplateFactory(code="many", per_member_limit=100)
    for i in range(30):
        coupon_issue(template=template, member=regular)
        points_adjust(member_id=regular.pk, points=10, reason=f"r{i}", user=operator.user, idempotency_key=f"k{i}")
    client.get(_url(newcomer))  # warm the session and content-type caches

    with CaptureQueriesContext(connection) as small:
        assert client.get(_url(newcomer)).status_code == 200
    assert len(small) <= 25

    with django_assert_num_queries(len(small)):
        assert client.get(_url(regular)).status_code == 200


def test_the_360_page_and_home_in_chinese(client, operator, tiers, shop):
    member, _ = member_register(phone="13812348000", name="Li Na")
    _orders(member, shop, 1)
    client.cookies["django_language"] = "zh-hans"

    page = client.get(_url(member)).content.decode()
    home = client.get("/admin/").content.decode()

    assert "编辑资料" in page and "积分流水" in page and "¥1,000.50" in page
    assert "日常工作" in home and "门店与员工" in home


def test_issue_a_coupon_from_the_360_page_through_the_template_action(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")
    template = CouponTemplateFactory(code="ten-off", name="Ten off")
    page = client.get(_url(member)).content.decode()
    assert f'<option value="{template.pk}">Ten off</option>' in page

    client.post(
        "/admin/loyalty/coupontemplate/",
        {"action": "issue_to_members", "_selected_action": template.pk, "members": member.code},
    )

    assert [c.template.code for c in member.coupons.all()] == ["ten-off"]
    assert "Ten off" in client.get(_url(member)).content.decode().split('id="coupons"')[1]
