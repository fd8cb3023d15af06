from __future__ import annotations

from datetime import date

import pytest

from apps.insights.kpis import kpi_aggregates_refresh
from apps.insights.models import MemberTag, Tag
from apps.insights.profiles import member_profiles_refresh
from tests.factories import MemberFactory, StoreFactory
from tests.insights.factories import local, make_order

pytestmark = pytest.mark.django_db


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def test_profile_of_a_member_with_purchases(api, channel, django_assert_max_num_queries):
    s1 = StoreFactory(code="S1")
    member = MemberFactory(code="M100", joined_at=local("2026-01-01"), birthday=date(1991, 7, 2))
    make_order(channel=channel, member=member, store=s1, day="2026-06-01", total="50.00")
    make_order(channel=channel, member=member, store=s1, day="2026-06-11", total="70.00")
    vip = Tag.objects.create(code="vip", name="VIP")
    MemberTag.objects.create(member=member, tag=vip, assigned_at=local("2026-06-01"))
    member_profiles_refresh(today=date(2026, 6, 21))
    api.get("/api/v1/members/M100/profile")  # warm the key lookup
    with django_assert_max_num_queries(5):
        response = api.get("/api/v1/members/M100/profile")
    assert response.status_code == 200
    body = response.json()
    assert body["btyd"] == {"frequency": 1, "recency": 10, "T": 20, "monetary_value": "70.00"}
    assert body["lifecycle_stage"] == "active"
    assert body["rfm"] == {"recency_score": 1, "frequency_score": 1, "monetary_score": 1, "segment": "hibernating"}
    assert body["tags"][0] == "vip"
    assert {"lifecycle:active", "store:S1", "habit:in_store_only", "birthday_month:7"} <= set(body["tags"])
    assert body["computed_at"]


def test_profile_before_the_first_refresh_and_unknown_member(api):
    MemberFactory(code="M200")
    body = api.get("/api/v1/members/M200/profile").json()
    assert body["lifecycle_stage"] is None and body["btyd"]["frequency"] == 0 and body["computed_at"] is None
    _problem(api.get("/api/v1/members/NOPE/profile"), 404, "member_not_found")


def test_profile_needs_a_key(anon_api):
    assert anon_api.get("/api/v1/members/M1/profile").status_code == 401


def test_kpis_for_a_month_with_definitions(api, channel):
    member = MemberFactory(joined_at=local("2026-04-01"))
    make_order(channel=channel, member=member, day="2026-05-02", total="80.00")
    make_order(channel=channel, day="2026-05-03", total="20.00")
    kpi_aggregates_refresh(now=local("2026-05-20"))
    response = api.get("/api/v1/kpis", {"month": "2026-05", "channel": "mall"})
    assert response.status_code == 200
    body = response.json()
    assert body["month"] == "2026-05" and body["channel"] == "mall" and body["store"] is None
    figures = body["figures"]
    assert figures["member_share_of_transactions"]["value"] == "0.5000"
    assert figures["member_share_of_sales"]["value"] == "0.8000"
    assert figures["average_order_value"]["value"] == "80.00"
    assert figures["active_members"]["value"] == 1
    assert set(figures) == {
        "member_share_of_transactions",
        "member_share_of_sales",
        "reachable_share",
        "active_members",
        "purchase_frequency",
        "average_order_value",
        "annual_contribution_per_member",
        "repurchase_rate",
        "churn_rate",
        "new_member_sales",
        "returning_member_sales",
    }
    assert all(f["definition"] for f in figures.values())


def test_kpis_bad_input_is_a_problem(api):
    body = _problem(api.get("/api/v1/kpis", {"month": "2026-13", "store": "NOPE"}), 400, "invalid_kpi_query")
    assert set(body["errors"]) == {"month", "store"}
    _problem(api.get("/api/v1/kpis"), 400, "invalid_kpi_query")
