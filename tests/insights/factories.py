"""Hand-made orders for the insights tests: every figure in the tests is computed from these by hand."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.orders.models import Order, OrderLine

_numbers = itertools.count(1)


def local(day: date | str, at: time = time(12, 0)) -> datetime:
    """A moment on a business day in the business time zone (noon unless told)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, at, tzinfo=ZoneInfo(settings.TIME_ZONE))


def make_order(
    *,
    channel,
    day: date | str,
    total: str,
    member=None,
    store=None,
    refunded: str = "0",
    online: bool = False,
    at: time = time(12, 0),
    guide=None,
    lines: list[tuple[object, str]] | None = None,
    refunded_lines: bool = False,
) -> Order:
    """An order as the order services leave it (historic, already priced); ``lines`` are (sku, line total)."""
    n = next(_numbers)
    total_d, refunded_d = Decimal(total), Decimal(refunded)
    status = Order.Status.COMPLETED
    if refunded_d and refunded_d >= total_d:
        status = Order.Status.REFUNDED
    elif refunded_d:
        status = Order.Status.PARTLY_REFUNDED
    order = Order.objects.create(
        number=f"T{n:08d}",
        channel=channel,
        external_id=f"x{n}",
        store=store,
        credited_store=store,
        member=member,
        guide=guide,
        credited_guide=guide,
        is_online=online,
        status=status,
        placed_at=local(day, at),
        subtotal=total_d,
        total=total_d,
        refunded_total=refunded_d,
        is_historic=True,
    )
    for position, (sku, amount) in enumerate(lines or [], start=1):
        OrderLine.objects.create(
            order=order,
            position=position,
            sku=sku,
            quantity=1,
            unit_price=Decimal(amount),
            total=Decimal(amount),
            refunded_quantity=1 if refunded_lines else 0,
            refunded_amount=Decimal(amount) if refunded_lines else Decimal("0"),
        )
    return order
