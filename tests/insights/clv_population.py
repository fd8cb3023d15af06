"""Members and orders drawn from the BG/NBD and Gamma-Gamma models themselves, bulk-inserted (tests only)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from apps.members.models import Member
from apps.orders.models import Order
from tests.insights.factories import local

_batches = itertools.count(1)


def populate(*, channel, members: int, end: date, seed: int = 1, history_days: int = 700) -> list[Member]:
    """``members`` members whose purchase days follow BG/NBD (r 0.6, alpha 40 days, a 0.9, b 3) up to ``end``."""
    rng = np.random.default_rng(seed)
    batch = next(_batches)
    created = Member.objects.bulk_create(
        [Member(code=f"P{batch}-{i}", phone=None, joined_at=local(end - timedelta(days=history_days + 5)))
         for i in range(members)]
    )  # fmt: skip
    orders = []
    for i, member in enumerate(created):
        lam, p, nu = rng.gamma(0.6, 1 / 40.0), rng.beta(0.9, 3.0), rng.gamma(3.0, 1 / 20.0)
        first = end - timedelta(days=int(rng.integers(20, history_days)))
        now, day = 0.0, first
        while day <= end:
            spend = Decimal(str(round(float(rng.gamma(4.0, 1 / nu)), 2))) + Decimal("1.00")
            orders.append(
                Order(
                    number=f"P{batch}-{i}-{len(orders)}",
                    channel=channel,
                    external_id=f"p{batch}-{len(orders)}",
                    member=member,
                    placed_at=local(day),
                    subtotal=spend,
                    total=spend,
                    is_historic=True,
                )
            )
            if now and rng.random() < p:
                break
            now += rng.exponential(1 / lam)
            day = first + timedelta(days=int(min(now, history_days + 1)))
    Order.objects.bulk_create(orders, batch_size=2000)
    return created
