"""The predictions where people use them: the profile API, segments, value-band tags and the console pages."""

from __future__ import annotations

from datetime import date

import pytest

from apps.insights.clv.models import MemberClv
from apps.insights.clv.services import clv_fit
from apps.insights.conditions import ConditionSpec, condition_errors
from apps.insights.profiles import member_profiles_refresh
from apps.insights.selectors import members_count, members_matching
from tests.factories import ChannelFactory
from tests.insights.clv_population import populate

pytestmark = pytest.mark.django_db
END = date(2026, 6, 30)


@pytest.fixture
def fitted():
    members = populate(channel=ChannelFactory(code="sim"), members=300, end=END, seed=11)
    member_profiles_refresh(today=END)
    return members, clv_fit(as_of=END)


def test_profile_clv_is_null_before_the_first_fit_then_the_members_predictions(api, channel):
    member = populate(channel=channel, members=40, end=END, seed=12)[0]
    member_profiles_refresh(today=END)
    assert api.get(f"/api/v1/members/{member.code}/profile").json()["clv"] is None

    populate(channel=channel, members=200, end=END, seed=13)
    clv_fit(as_of=END)

    body = api.get(f"/api/v1/members/{member.code}/profile").json()
    row = MemberClv.objects.get(member=member)
    assert body["clv"] == {
        "p_alive": pytest.approx(row.p_alive, abs=1e-6),
        "expected_purchases_90d": pytest.approx(row.expected_purchases_90d, abs=1e-6),
        "expected_purchases_365d": pytest.approx(row.expected_purchases_365d, abs=1e-6),
        "expected_value_365d": f"{row.expected_value_365d:.2f}",
        "as_of": "2026-06-30",
    }
    assert 0 < body["clv"]["p_alive"] <= 1 and body["clv"]["expected_purchases_365d"] > 0
    assert f"value:{row.value_band}" in body["tags"]


def test_segments_on_p_alive_and_value_band(fitted):
    below = [ConditionSpec(kind="p_alive_below", value="0.5")]
    at_least = [ConditionSpec(kind="p_alive_at_least", value="0.5")]
    top = [ConditionSpec(kind="value_band", value="top10")]
    n_below = MemberClv.objects.filter(p_alive__lt=0.5).count()
    assert 0 < n_below < 300
    assert members_count(specs=below) == n_below
    assert members_count(specs=at_least) == MemberClv.objects.count() - n_below
    top_ids = set(members_matching(specs=top).values_list("pk", flat=True))
    assert top_ids == set(MemberClv.objects.filter(value_band="top10").values_list("member_id", flat=True))
    assert 20 <= len(top_ids) <= 40  # a tenth of the 300 members, give or take ties
    lowest_top = min(MemberClv.objects.filter(value_band="top10").values_list("expected_value_365d", flat=True))
    assert not MemberClv.objects.exclude(value_band="top10").filter(expected_value_365d__gt=lowest_top).exists()


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("p_alive_below", "1.5", "give a probability between 0 and 1"),
        ("p_alive_at_least", "often", "give a probability between 0 and 1"),
        ("value_band", "top5", "choose one of: top10, top25, top50, bottom50"),
    ],
)
def test_bad_clv_conditions_are_refused(kind, value, message):
    errors = condition_errors([ConditionSpec(kind=kind, value=value)])
    assert message in errors["condition-1"][0]


def test_console_diagnostics_page_shows_parameters_holdout_and_distributions(admin_client, fitted):
    _members, model = fitted
    response = admin_client.get("/admin/insights/clvmodel/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"r = {model.r:.3f}" in page and "times a year on average" in page
    assert "on average" in page and "stop after any one purchase" in page
    holdout = model.diagnostics["holdout"]
    assert holdout["by_x"] and 'id="clv-holdout"' in page and "Holdout check" in page
    assert page.count('<svg class="kpi-') == 3
    assert "value:top10" in page


def test_console_page_before_any_fit_and_a_refused_fit_from_the_button(admin_client, channel):
    assert 'id="clv-none"' in admin_client.get("/admin/insights/clvmodel/").content.decode()
    response = admin_client.post("/admin/insights/clvmodel/fit/", follow=True)
    page = response.content.decode()
    assert "nothing to fit" in page and 'id="clv-none"' in page


def test_console_member_pages_say_how_likely_the_member_buys_again(admin_client, fitted):
    row = MemberClv.objects.order_by("-expected_purchases_365d").first()
    page = admin_client.get(f"/admin/insights/memberprofile/{row.member_id}/change/").content.decode()
    assert "likely to buy again" in page.lower() and "high" in page
    listing = admin_client.get("/admin/insights/memberclv/", {"value_band": "top10"}).content.decode()
    assert "High" in listing or "high" in listing
