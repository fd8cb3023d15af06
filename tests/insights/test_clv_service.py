"""Fitting as of a date, scoring every member set-based, and what a failed fit leaves alone."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from apps.insights.clv import fitting
from apps.insights.clv.models import ClvModel, MemberClv
from apps.insights.clv.services import clv_fit
from apps.insights.errors import ClvBadDate, ClvTooLittleData
from apps.members.models import Member
from apps.orders.models import Order
from tests.factories import ChannelFactory
from tests.insights.clv_population import populate
from tests.insights.factories import local, make_order

DATA = Path(__file__).resolve().parent / "data"
pytestmark = pytest.mark.django_db
END = date(2026, 6, 30)


def load_cdnow(channel) -> None:
    rows = [line.split() for line in (DATA / "cdnow_sample.txt").read_text().splitlines() if line.strip()]
    Member.objects.bulk_create(
        [Member(code=f"C{c:05d}", phone=None, joined_at=local("1996-12-01")) for c in sorted({int(r[0]) for r in rows})]
    )
    ids = dict(Member.objects.values_list("code", "pk"))
    Order.objects.bulk_create(
        [
            Order(
                number=f"CD{n:06d}",
                channel=channel,
                external_id=str(n),
                member_id=ids[f"C{int(r[0]):05d}"],
                placed_at=local(date(int(r[2][:4]), int(r[2][4:6]), int(r[2][6:]))),
                subtotal=Decimal(r[4]),
                total=Decimal(r[4]),
                is_historic=True,
            )
            for n, r in enumerate(rows)
        ],
        batch_size=2000,
    )


def test_clv_fit_on_cdnow_orders_prints_the_published_parameters_in_days_and_scores_everybody():
    load_cdnow(ChannelFactory(code="cdnow"))
    out, err = StringIO(), StringIO()

    call_command("clv_fit", "--as-of", "1997-09-30", stdout=out, stderr=err)

    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["as_of"] == "1997-09-30" and result["members"] == 2357 and result["time_unit"] == "day"
    bg, gg = result["bgnbd"], result["gamma_gamma"]
    # The paper's weeks are our days / 7: r, a, b do not depend on the unit, alpha scales with it.
    assert (round(bg["r"], 2), round(bg["alpha"] / 7, 2), round(bg["a"], 2), round(bg["b"], 2)) == (
        0.24, 4.41, 0.79, 2.43,
    )  # fmt: skip
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["v"], 2)) == (6.25, 3.74, 15.44)
    # In days, the log-likelihood is the paper's (in weeks) less (repeat purchases) x log 7: 2,457 repeat purchases.
    assert bg["log_likelihood"] == pytest.approx(-9582.43 - 2457 * math.log(7), abs=0.05)
    assert "2357 members with a purchase" in err.getvalue()

    assert MemberClv.objects.count() == 2357
    # Customer 4 bought on 1997-01-01, 01-18, 08-02 by the end of calibration: x = 2, t_x = 213, T = 272 days.
    row = MemberClv.objects.get(member__code="C00004")
    model = fitting.BgNbd(bg["r"], bg["alpha"], bg["a"], bg["b"], 0)
    assert row.p_alive == pytest.approx(fitting.p_alive(model, [2], [213], [272])[0], rel=1e-9)
    assert row.expected_purchases_365d == pytest.approx(
        fitting.expected_purchases(model, 365, [2], [213], [272])[0], rel=1e-9
    )
    spend = fitting.expected_spend(fitting.GammaGamma(gg["p"], gg["q"], gg["v"], 0), [2], [(29.73 + 14.96) / 2])[0]
    assert row.expected_spend == Decimal(str(round(spend, 2)))
    assert row.expected_value_365d == (Decimal(str(row.expected_purchases_365d)) * row.expected_spend).quantize(
        Decimal("0.01")
    )
    bands = dict(MemberClv.objects.values_list("value_band").annotate(n=Count("pk")))
    assert bands["top10"] == pytest.approx(236, abs=30)

    holdout = ClvModel.objects.get(is_current=True).diagnostics["holdout"]
    assert holdout["weeks"] == 13 and holdout["calibration_end"] == "1997-07-01"
    assert [r["x"] for r in holdout["by_x"]][:3] == ["0", "1", "2"]
    assert holdout["predicted_total"] == pytest.approx(holdout["actual_total"], rel=0.25)


def test_scoring_takes_the_same_number_of_queries_for_twice_the_members():
    channel = ChannelFactory(code="sim")
    populate(channel=channel, members=300, end=END, seed=3)
    with CaptureQueriesContext(connection) as few:
        clv_fit(as_of=END)
    populate(channel=channel, members=300, end=END, seed=4)
    with CaptureQueriesContext(connection) as many:
        clv_fit(as_of=END)
    assert MemberClv.objects.count() == 600
    assert len(many.captured_queries) == len(few.captured_queries) <= 25


def _scores() -> list[tuple]:
    return list(MemberClv.objects.order_by("member_id").values_list("member_id", "p_alive", "expected_value_365d"))


def test_a_refused_fit_keeps_the_previous_model_and_scores_and_says_why():
    channel = ChannelFactory(code="sim")
    populate(channel=channel, members=200, end=END, seed=5)
    good = clv_fit(as_of=END)
    before = _scores()

    with pytest.raises(ClvBadDate) as exc:
        clv_fit(as_of=END - timedelta(days=2000))
    assert "before the first purchase" in exc.value.message
    with pytest.raises(CommandError, match=r"clv_bad_as_of: .* before the first purchase"):
        call_command("clv_fit", "--as-of", "2019-01-01", stdout=StringIO())
    with pytest.raises(CommandError, match="--as-of: give a date as YYYY-MM-DD"):
        call_command("clv_fit", "--as-of", "30/06/2026", stdout=StringIO())

    assert ClvModel.objects.get(is_current=True) == good
    assert _scores() == before
    failed = ClvModel.objects.filter(status="failed").order_by("fitted_at")
    assert failed.count() == 2 and "before the first purchase" in failed.first().message


def test_a_tiny_merchant_is_told_there_are_too_few_repeat_buyers_and_nothing_is_scored():
    channel = ChannelFactory(code="tiny")
    for i in range(6):
        member = Member.objects.create(code=f"T{i}", joined_at=local("2026-01-01"))
        make_order(channel=channel, member=member, day="2026-02-01", total="10.00")
        if i < 3:
            make_order(channel=channel, member=member, day="2026-03-01", total="12.00")

    with pytest.raises(ClvTooLittleData) as exc:
        clv_fit(as_of=END)
    assert "only 3 members bought again (at least 20 needed): not fitted" in exc.value.message
    with pytest.raises(CommandError, match="clv_too_little_data: only 3 members bought again"):
        call_command("clv_fit", stdout=StringIO())
    assert not MemberClv.objects.exists() and not ClvModel.objects.filter(is_current=True).exists()


def test_p_alive_before_is_the_previous_fit_value():
    channel = ChannelFactory(code="sim")
    populate(channel=channel, members=200, end=END, seed=6)
    clv_fit(as_of=END - timedelta(days=60))
    earlier = dict(MemberClv.objects.values_list("member_id", "p_alive"))
    clv_fit(as_of=END)
    later = dict(MemberClv.objects.values_list("member_id", "p_alive_before"))
    assert {m: later[m] for m in earlier} == earlier
