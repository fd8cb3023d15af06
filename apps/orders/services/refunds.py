"""Refunds: money share, stock, points, spend and coupons, once per external id."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.utils import timezone

from apps.catalog import services as stock
from apps.core.errors import IdempotencyConflict
from apps.core.money import quantize_money
from apps.loyalty.services import (
    coupon_restore,
    points_reverse,
)
from apps.members.services import member_record_spend

from ..errors import (
    InvalidOrder,
    RefundExceedsOrder,
)
from ..models import Order, OrderLine, Refund, RefundLine
from ..payments import order_payments_refund_in_transaction
from .common import (
    ZERO,
    F,
    _lock,
    fingerprint,
)


def _refund_lines(order_lines: list[OrderLine], wanted: Sequence[tuple[str, int]]) -> list[tuple[OrderLine, int]]:
    """Match refunded SKUs to the order's lines (first line with room first); refuse more than was bought."""
    room = {line.pk: line.quantity - line.refunded_quantity for line in order_lines}
    taken: dict[int, int] = {}
    for sku, quantity in wanted:
        if quantity <= 0:
            raise InvalidOrder(errors={"lines": [f"Quantity of {sku} must be positive."]})
        left = quantity
        for line in order_lines:
            if line.sku.code != sku or left == 0:
                continue
            take = min(left, room[line.pk])
            room[line.pk] -= take
            taken[line.pk] = taken.get(line.pk, 0) + take
            left -= take
        if left:
            raise RefundExceedsOrder(f"{sku}: {left} more than can still be refunded.")
    return [(line, taken[line.pk]) for line in order_lines if taken.get(line.pk)]


def order_refund(*, order: Order, external_id: str, lines: Sequence[tuple[str, int]]) -> tuple[Refund, bool]:
    """Refund part or all of an order once per external id: money share, stock, points, spend, coupons."""
    digest = fingerprint({"lines": sorted([list(line) for line in lines])})
    with transaction.atomic(durable=True):
        order = _lock(order)
        existing = Refund.objects.filter(order=order, external_id=external_id).first()
        if existing is not None:
            if existing.fingerprint != digest:
                raise IdempotencyConflict(f"Refund {external_id} was already made with different lines.")
            return existing, False
        order_lines = list(order.lines.select_related("sku").select_for_update(of=("self",)).order_by("position"))
        matched = _refund_lines(order_lines, lines)
        if not matched:
            raise InvalidOrder(errors={"lines": ["Nothing to refund."]})
        refund = Refund.objects.create(order=order, external_id=external_id, fingerprint=digest, refund_total=ZERO)
        refund_lines, total = [], ZERO
        for line, quantity in matched:
            if line.refunded_quantity + quantity == line.quantity:
                amount = line.total - line.refunded_amount  # the last piece takes the rounding rest
            else:
                amount = min(quantize_money(line.total * quantity / line.quantity), line.total - line.refunded_amount)
            line.refunded_quantity += quantity
            line.refunded_amount += amount
            total += amount
            refund_lines.append(RefundLine(refund=refund, order_line=line, quantity=quantity, amount=amount))
        RefundLine.objects.bulk_create(refund_lines)
        OrderLine.objects.bulk_update([line for line, _q in matched], ["refunded_quantity", "refunded_amount"])

        fully = all(line.refunded_quantity == line.quantity for line in order_lines)
        order.refunded_total += total
        order.status = Order.Status.REFUNDED if fully else Order.Status.PARTLY_REFUNDED

        stock_lines = [(line.sku_id, quantity) for line, quantity in matched]
        reference = f"refund:{order.number}:{external_id}"[:100]
        if order.fulfilment == F.VOUCHER:
            if order.verified_at is not None:
                stock.stock_return(store_id=order.verified_store_id, lines=stock_lines, reference=reference)
        elif order.is_fulfilled:
            stock.stock_return(store_id=order.store_id, lines=stock_lines, reference=reference)
        else:
            stock.stock_release(store_id=order.store_id, lines=stock_lines, reference=reference)

        if order.member_id is not None and order.is_paid:
            earlier = Refund.objects.filter(order=order).exclude(pk=refund.pk)
            already = sum(r.points_reversed + r.points_shortfall for r in earlier)
            if fully:
                points = order.points_earned - already
            else:
                share = order.points_earned * order.refunded_total / order.total if order.total else 0
                points = max(int(Decimal(share).to_integral_value(rounding=ROUND_FLOOR)) - already, 0)
            if points > 0:
                entry = points_reverse(
                    member_id=order.member_id, points=points, reference=reference, idempotency_key=f"refund:{refund.pk}"
                )
                refund.points_reversed = -entry.points
                refund.points_shortfall = entry.shortfall
            if total:
                member_record_spend(member_id=order.member_id, amount=-total, at=timezone.now(), reference=reference)
        if fully:
            # Policy: a fully refunded order gives its coupons back if they are still valid; partial: kept spent.
            for code in order.coupons_applied:
                coupon_restore(code=code, reason=f"order {order.number} refunded")
        order_payments_refund_in_transaction(order=order, refund=refund, amount=total)
        refund.refund_total = total
        refund.save(update_fields=["refund_total", "points_reversed", "points_shortfall"])
        order.save(update_fields=["refunded_total", "status"])
    return refund, True
