"""The per-member BTYD measures agree with the public reference implementation on public data.

Reference: lifetimes 0.11.3 ``summary_data_from_transaction_data`` on the CDNOW sample (2,357 customers,
6,919 transactions), observation end 1998-06-30; its output is committed in data/ (see make_reference.py).
Each CDNOW transaction becomes one order of that customer's member at local noon.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from apps.insights.models import MemberProfile
from apps.insights.profiles import member_profiles_refresh
from apps.members.models import Member
from apps.orders.models import Order
from tests.factories import ChannelFactory
from tests.insights.factories import local

DATA = Path(__file__).resolve().parent / "data"
pytestmark = pytest.mark.django_db


def test_frequency_recency_t_and_monetary_value_match_lifetimes_on_cdnow():
    channel = ChannelFactory(code="cdnow")
    rows = [line.split() for line in (DATA / "cdnow_sample.txt").read_text().splitlines() if line.strip()]
    customers = sorted({int(r[0]) for r in rows})
    joined = local("1996-12-01")
    Member.objects.bulk_create(
        [Member(code=f"C{c:05d}", phone=None, joined_at=joined) for c in customers], batch_size=2000
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

    member_profiles_refresh(today=date(1998, 6, 30))

    ours = {
        int(p.member.code[1:]): (p.frequency, p.recency, p.T, p.monetary_value)
        for p in MemberProfile.objects.select_related("member")
    }
    with (DATA / "cdnow_lifetimes_summary.csv").open() as fh:
        reference = {int(row["customer_id"]): row for row in csv.DictReader(fh)}
    assert len(reference) == len(ours) == 2357
    mismatches = []
    for customer, row in reference.items():
        f, r, t, mv = ours[customer]
        expected_mv = Decimal(row["monetary_value"]).quantize(Decimal("0.01"))
        if (f, r, t) != (int(float(row["frequency"])), int(float(row["recency"])), int(float(row["T"]))) or abs(
            mv - expected_mv
        ) > Decimal("0.01"):
            mismatches.append((customer, (f, r, t, mv), dict(row)))
    assert mismatches == []
