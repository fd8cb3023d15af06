from __future__ import annotations

from datetime import datetime

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from .errors import OrderNotFound
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
