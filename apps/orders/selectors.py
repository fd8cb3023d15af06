from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from .errors import OrderNotFound

if TYPE_CHECKING:
    from apps.members.models import Member
from .models import Order, OrderLine


def order_get_by_number(*, number: str, channel_id: int | None = None) -> Order:
    """The order with its lines and everything the API shows, in a fixed number of queries."""
    qs = Order.objects.select_related("channel", "store", "member", "guide").prefetch_related(models_prefetch())
    if channel_id is not None:
        qs = qs.filter(channel_id=channel_id)
    order = qs.filter(number=number).first()
    if order is None:
        raise OrderNotFound(f"There is no order {number}.")
    return order


def models_prefetch():
    from django.db.models import Prefetch

    return Prefetch("lines", queryset=OrderLine.objects.select_related("sku").order_by("position"))


def sales_by(*, group: str, start: datetime, end: datetime) -> list[dict]:
    """Sales credited to each store or guide in [start, end): in store and online, one aggregate query."""
    field = {"store": "credited_store", "guide": "credited_guide"}[group]
    money = DecimalField(max_digits=14, decimal_places=2)
    net = Sum("total", output_field=money) - Sum("refunded_total", output_field=money)
    zero = Value(0, output_field=money)
    return list(
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end, **{f"{field}__isnull": False})
        .values(f"{field}__code", f"{field}__name")
        .annotate(
            orders=Count("pk"),
            in_store=Coalesce(
                Sum("total", filter=Q(is_online=False)) - Sum("refunded_total", filter=Q(is_online=False)), zero
            ),
            online=Coalesce(
                Sum("total", filter=Q(is_online=True)) - Sum("refunded_total", filter=Q(is_online=True)), zero
            ),
            online_orders=Count("pk", filter=Q(is_online=True)),
            net=net,
        )
        .order_by("-net")
    )


def orders_for_member(*, member_id: int) -> QuerySet[Order]:
    return Order.objects.filter(member_id=member_id).select_related("channel", "store").order_by("-placed_at")


def member_bought_at(*, member_id: int, store_ids: list[int]) -> bool:
    """Whether the member has an order placed in, or credited to, one of ``store_ids`` (one indexed probe)."""
    return (
        Order.objects.filter(member_id=member_id)
        .filter(Q(store_id__in=store_ids) | Q(credited_store_id__in=store_ids))
        .exists()
    )


def member_in_clerk_scope(*, member: Member, store_ids: list[int]) -> bool:
    """Whether a clerk of ``store_ids`` may see this member's details.

    Policy: a store's members are those who joined at the store or have bought there (an order placed in or
    credited to it). Serving another store's member (a sale, a coupon) is allowed and makes them a customer
    of this store too; looking at their details before that is not.
    """
    return member.join_store_id in store_ids or member_bought_at(member_id=member.pk, store_ids=store_ids)


def order_in_stores(*, number: str, store_ids: list[int]) -> Order:
    """The order ``number`` if it was placed in, credited to or verified at one of ``store_ids``; else not found.

    Another store's order is answered exactly like an unknown one, so a number reveals nothing.
    """
    order = (
        Order.objects.select_related("channel", "store", "member", "guide")
        .prefetch_related(models_prefetch())
        .filter(number=number.strip())
        .filter(Q(store_id__in=store_ids) | Q(credited_store_id__in=store_ids) | Q(verified_store_id__in=store_ids))
        .first()
    )
    if order is None:
        raise OrderNotFound(f"There is no order {number} in your stores.")
    return order


def voucher_by_code(*, verification_code: str) -> Order:
    """The voucher order holding this verification code (unique), with its lines; ``OrderNotFound`` otherwise."""
    code = "".join(ch for ch in (verification_code or "") if ch.isdigit())
    order = (
        Order.objects.select_related("store", "verified_store")
        .prefetch_related(models_prefetch())
        .filter(verification_code=code, fulfilment=Order.Fulfilment.VOUCHER)
        .first()
        if code
        else None
    )
    if order is None:
        raise OrderNotFound("No voucher has this code.")
    return order


def sales_credited_summary(*, store_id: int, guide_id: int, day_start: datetime, month_start: datetime) -> dict:
    """Orders and net sales credited to ``store_id`` since ``day_start`` and ``month_start``, all and by ``guide_id``.

    One aggregate over the (credited_store, placed_at) index; keys ``{day,month,my_day,my_month}_{orders,net}``.
    """
    money = DecimalField(max_digits=14, decimal_places=2)
    zero = Value(0, output_field=money)
    mine = Q(credited_guide_id=guide_id)
    periods = {
        "day": Q(placed_at__gte=day_start),
        "month": Q(placed_at__gte=month_start),
        "my_day": mine & Q(placed_at__gte=day_start),
        "my_month": mine & Q(placed_at__gte=month_start),
    }
    aggregates = {}
    for name, condition in periods.items():
        aggregates[f"{name}_orders"] = Count("pk", filter=condition)
        aggregates[f"{name}_net"] = Coalesce(
            Sum(F("total") - F("refunded_total"), filter=condition, output_field=money), zero
        )
    return Order.objects.filter(credited_store_id=store_id, placed_at__gte=min(day_start, month_start)).aggregate(
        **aggregates
    )


def orders_recent_for_member(*, member_id: int, limit: int = 5) -> list[Order]:
    """The member's latest orders with their store and channel (one query)."""
    return list(orders_for_member(member_id=member_id)[:limit])


def sale_quote(
    *,
    lines: list[tuple[str, int]],
    channel_id: int,
    store_id: int,
    member_id: int | None = None,
    tier_id: int | None = None,
    coupon_codes: list[str] | None = None,
) -> dict:
    """What an in-store sale would cost before it is booked: the draft ``order_create`` books (``order_draft``),
    and whether this store has the stock.

    ``{"lines": [PricedLine], "coupons": [CouponEvaluation], "subtotal", "discount", "total", "short"}`` where
    ``short`` names each SKU the store cannot supply (empty when it can); raises ``UnknownSku`` for codes that
    cannot be sold.
    """
    from apps.catalog.selectors import sku_prices, stock_shortfall

    from .drafts import order_draft

    prices = sku_prices(skus=[sku for sku, _q in lines], tier_id=tier_id)
    draft = order_draft(
        prices=prices,
        lines=lines,
        member_id=member_id,
        store_id=store_id,
        channel_id=channel_id,
        coupon_codes=coupon_codes or [],
    )
    wanted: dict[int, int] = {}
    for line in draft.lines:
        wanted[line.price.sku_id] = wanted.get(line.price.sku_id, 0) + line.quantity
    _short_ids, short = stock_shortfall(store_id=store_id, lines=sorted(wanted.items()))
    return {
        "lines": draft.lines,
        "coupons": draft.coupons,
        "subtotal": draft.subtotal,
        "discount": draft.discount_total,
        "total": draft.total,
        "short": short,
    }


def sales_summary(*, start: datetime, end: datetime) -> dict:
    """Orders placed in [start, end) and their net sales (less refunds): one aggregate over order_placed_idx."""
    row = Order.objects.filter(placed_at__gte=start, placed_at__lt=end).aggregate(
        orders=Count("pk"), net=Sum(F("total") - F("refunded_total"))
    )
    return {"orders": row["orders"] or 0, "net": row["net"] or Decimal("0.00")}
