from __future__ import annotations

import json
from datetime import date

import pytest

from apps.insights.clv.models import MemberClv
from apps.insights.clv.services import clv_fit
from apps.insights.conditions import ConditionSpec
from apps.insights.errors import ClvTooLittleData
from apps.insights.kpis import kpi_aggregates_refresh
from apps.insights.models import MemberTag, Segment, SegmentCondition, SegmentSnapshot, Tag
from apps.insights.profiles import member_profiles_refresh
from apps.insights.services import member_tag_add, segment_save, segment_snapshot_take
from tests.console import hidden_inputs
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, TierFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales():
    pos = ChannelFactory(code="pos", kind="pos")
    s1 = StoreFactory(code="S1")
    member = MemberFactory(joined_at=local("2026-04-01"), join_store=s1, tier=TierFactory(code="gold", name="Gold"))
    make_order(channel=pos, member=member, store=s1, day="2026-05-02", total="80.00")
    make_order(channel=pos, store=s1, day="2026-05-03", total="20.00")
    kpi_aggregates_refresh(now=local("2026-05-20"))
    return {"store": s1, "channel": pos, "member": member}


def test_dashboard_shows_figures_definitions_charts_and_cohorts(admin_client, sales, django_assert_max_num_queries):
    admin_client.get("/admin/insights/kpimonth/", {"month": "2026-05"})
    with django_assert_max_num_queries(20):
        response = admin_client.get("/admin/insights/kpimonth/", {"month": "2026-05", "store": "S1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="kpi-member_share_of_transactions"' in page and "50.0%" in page  # 1 of 2 orders
    assert "Members&#x27; orders in the month / active members." in page or "active members." in page
    assert page.count("<svg") >= 10
    assert "Retention by join month" in page and "2026-04" in page


def test_dashboard_csv_has_a_row_per_month(admin_client, sales):
    response = admin_client.get("/admin/insights/kpimonth/csv/", {"month": "2026-05"})
    rows = response.content.decode().strip().splitlines()
    assert rows[0].startswith("month,store,channel,member_share_of_transactions")
    assert len(rows) == 25
    may = rows[-1].split(",")
    assert may[0] == "2026-05" and may[3] == "0.5000"


def test_segment_live_preview_counts_unsaved_conditions_and_reports_bad_ones(admin_client):
    gold = TierFactory(code="gold")
    MemberFactory(tier=gold)
    MemberFactory(tier=gold)
    MemberFactory()
    conditions = [{"group": 1, "kind": "tier", "value": "gold", "negate": False}]
    response = admin_client.get("/admin/insights/segment/preview/", {"conditions": json.dumps(conditions)})
    assert response.json() == {"count": 2}
    bad = [{"group": 1, "kind": "purchased_within", "value": "soon"}]
    response = admin_client.get("/admin/insights/segment/preview/", {"conditions": json.dumps(bad)})
    assert response.status_code == 400 and "condition-1" in response.json()["errors"]


def test_segment_form_rejects_a_bad_value_and_saves_nothing(admin_client):
    data = {
        "code": "lapsed",
        "name": "Lapsed",
        "description": "",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "1000",
        "conditions-0-group": "1",
        "conditions-0-kind": "joined_from",
        "conditions-0-value": "last year",
    }
    response = admin_client.post("/admin/insights/segment/add/", data)
    assert response.status_code == 200 and "YYYY-MM-DD" in response.content.decode()
    assert not Segment.objects.exists()
    data["conditions-0-value"] = "2026-01-01"
    response = admin_client.post("/admin/insights/segment/add/", data)
    assert response.status_code == 302
    assert SegmentCondition.objects.get().value == "2026-01-01"


def test_segment_csv_export_masks_phones_and_snapshot_action(admin_client):
    segment = Segment.objects.create(code="all", name="All")
    MemberFactory(code="M1", phone="+8613800138000")
    response = admin_client.get(f"/admin/insights/segment/{segment.pk}/members.csv")
    body = b"".join(response.streaming_content).decode()
    assert "M1" in body and "138****8000" in body and "13800138000" not in body
    admin_client.post(
        "/admin/insights/segment/", {"action": "take_snapshot", "_selected_action": [segment.pk]}, follow=True
    )
    assert SegmentSnapshot.objects.get().member_count == 1


def test_operators_tag_members_by_hand_but_not_with_rule_tags(admin_client):
    member = MemberFactory()
    vip = Tag.objects.create(code="vip", name="VIP")
    rule = Tag.objects.create(code="whale", name="Whale", kind="rule", rule="bought_together")
    admin_client.post("/admin/insights/membertag/add/", {"member": member.pk, "tag": vip.pk})
    admin_client.post("/admin/insights/membertag/add/", {"member": member.pk, "tag": rule.pk}, follow=True)
    assert list(MemberTag.objects.values_list("tag__code", flat=True)) == ["vip"]


# -- who may open the insights console ---------------------------------------------------------------------


def _insights_console_urls() -> list[str]:
    """Every console URL of the insights app (changelists, forms, history, CSVs, previews), with real ids."""
    from django.contrib import admin
    from django.urls import reverse

    urls = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "insights":
            continue
        some_id = model._default_manager.values_list("pk", flat=True).first()
        assert some_id is not None, f"make a {model.__name__} in the fixture"
        for pattern in model_admin.get_urls():
            if not pattern.name:
                continue
            kwargs = {name: some_id for name in pattern.pattern.converters}
            urls.append(reverse(f"admin:{pattern.name}", kwargs=kwargs))
    return urls


@pytest.fixture
def insights_data(sales):
    segment = Segment.objects.create(code="all", name="All")
    tag = Tag.objects.create(code="vip", name="VIP")
    member_tag_add(member=sales["member"], tag_code=tag.code)
    segment_snapshot_take(segment=segment)
    member_profiles_refresh(today=date(2026, 5, 20))  # also makes the tag settings
    with pytest.raises(ClvTooLittleData):  # one member: recorded as a fit that was refused
        clv_fit(as_of=date(2026, 5, 20))
    MemberClv.objects.create(
        member=sales["member"], as_of=date(2026, 5, 20), p_alive=0.9, expected_purchases_90d=0.5,
        expected_purchases_365d=1.5, expected_spend="80.00", expected_value_365d="120.00", value_band="top10",
    )  # fmt: skip
    return sales


def _staff_login(client, role: str, username: str):
    from apps.stores.services import staff_create

    staff = staff_create(
        code=username.upper(), name=username, role=role, username=username, password="pw-for-tests-1",
        stores=[StoreFactory(code=f"{username.upper()}-S")],
    )  # fmt: skip
    client.force_login(staff.user)
    return staff


def test_an_hq_operator_uses_segments_tags_profiles_and_the_dashboard(client, insights_data):
    _staff_login(client, "hq_operator", "hq")

    index = client.get("/admin/").content.decode()
    assert 'href="/admin/insights/segment/"' in index and 'href="/admin/insights/memberprofile/"' in index
    for url in (
        "/admin/insights/segment/",
        "/admin/insights/segment/add/",
        "/admin/insights/tag/",
        "/admin/insights/tag/add/",
        "/admin/insights/membertag/",
        "/admin/insights/memberprofile/",
        "/admin/insights/kpimonth/",
        "/admin/insights/kpimonth/csv/",
        f"/admin/insights/segment/{Segment.objects.get().pk}/members.csv",
    ):
        assert client.get(url).status_code == 200, url


def test_a_clerk_login_cannot_open_any_insights_console_url(client, insights_data):
    _staff_login(client, "clerk", "clerk")
    urls = _insights_console_urls()
    assert len(urls) > 30 and "/admin/insights/kpimonth/csv/" in urls

    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url


def test_an_operator_without_insights_permissions_is_refused_every_insights_url(client, insights_data):
    from django.contrib.auth.models import Permission

    staff = _staff_login(client, "hq_operator", "hq")
    staff.user.groups.clear()
    staff.user.user_permissions.set(Permission.objects.exclude(content_type__app_label="insights"))

    for url in _insights_console_urls():
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"member_share" not in response.content and insights_data["member"].code.encode() not in response.content


def test_a_segment_edited_in_the_console_is_saved_with_its_conditions_through_the_service(admin_client):
    segment = segment_save(
        code="lapsed",
        name="Lapsed",
        conditions=[ConditionSpec(kind="joined_from", value="2026-01-01"), ConditionSpec(kind="tier", value="gold")],
    )
    url = f"/admin/insights/segment/{segment.pk}/change/"
    data = hidden_inputs(admin_client.get(url))
    assert data["conditions-0-id"] == str(segment.conditions.order_by("id").first().pk)
    data |= {"code": "lapsed", "name": "Lapsed since March", "description": "", "conditions-TOTAL_FORMS": "3"}
    data |= {"conditions-0-group": "1", "conditions-0-kind": "joined_from", "conditions-0-value": "2026-03-01"}
    data |= {"conditions-1-group": "1", "conditions-1-kind": "tier", "conditions-1-value": "gold"}
    data |= {"conditions-1-DELETE": "on"}
    data |= {"conditions-2-group": "2", "conditions-2-kind": "tier", "conditions-2-value": "silver"}

    response = admin_client.post(url, data)

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Lapsed since March"
    assert sorted(segment.conditions.values_list("group", "kind", "value")) == [
        (1, "joined_from", "2026-03-01"),
        (2, "tier", "silver"),
    ]
