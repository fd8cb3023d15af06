"""An order before it is booked: its lines priced, its coupons evaluated and their discounts spread.

The one sale pricing: ``order_create`` books a draft, and the clerk's sale quote shows one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from apps.catalog.selectors import SkuPrice
from apps.core.money import quantize_money
from apps.loyalty.selectors import Cart, CartLine, CouponEvaluation, coupons_evaluate

ZERO = Decimal("0.00")


@dataclass
class PricedLine:
    price: SkuPrice
    quantity: int
    unit_price: Decimal
    discount: Decimal = ZERO

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount


@dataclass
class OrderDraft:
    lines: list[PricedLine]
    coupons: list[CouponEvaluation] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return quantize_money(sum((p.subtotal for p in self.lines), ZERO))

    @property
    def discount_total(self) -> Decimal:
        return sum((p.discount for p in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount_total

    @property
    def applied(self) -> list[str]:
        return [e.code for e in self.coupons if e.applies]

    @property
    def refused(self) -> list[CouponEvaluation]:
        return [e for e in self.coupons if not e.applies]


def spread_discount(amounts: Sequence[Decimal], discount: Decimal) -> list[Decimal]:
    """Split ``discount`` over lines in proportion to ``amounts``; cents add up exactly (rest on the last)."""
    base = sum(amounts, ZERO)
    shares = [ZERO] * len(amounts)
    if base <= 0 or discount <= 0:
        return shares
    discount = min(quantize_money(discount), base)
    given = ZERO
    for i, amount in enumerate(amounts[:-1]):
        shares[i] = min(quantize_money(discount * amount / base), amount, discount - given)
        given += shares[i]
    shares[-1] = discount - given
    return shares


def order_draft(
    *,
    prices: Mapping[str, SkuPrice],
    lines: Sequence[tuple[str, int]],
    member_id: int | None,
    store_id: int | None,
    channel_id: int,
    coupon_codes: Sequence[str] = (),
    at: datetime | None = None,
) -> OrderDraft:
    """Price ``lines`` (sku code, quantity) from ``prices`` and apply the coupons that apply (in order)."""
    draft = OrderDraft([PricedLine(prices[sku], int(quantity), prices[sku].price) for sku, quantity in lines])
    if not coupon_codes:
        return draft
    cart = Cart(
        member_id=member_id,
        store_id=store_id,
        channel_id=channel_id,
        lines=[CartLine(p.price.sku_id, p.price.category_id, p.quantity, p.unit_price) for p in draft.lines],
    )
    draft.coupons = coupons_evaluate(cart=cart, codes=coupon_codes, at=at)
    for evaluation in draft.coupons:
        if not evaluation.applies:
            continue
        indexes = evaluation.line_indexes or list(range(len(draft.lines)))
        shares = spread_discount([draft.lines[i].total for i in indexes], evaluation.discount)
        for i, share in zip(indexes, shares, strict=True):
            draft.lines[i].discount += share
    return draft
