"""How an order is paid: split payments (wallet + other methods) taken in the order's transaction, and the
proportional return of a refund to each of them (the wallet's share back to the card).

An order without ``payments`` is paid by one payment of its ``payment_method`` for the total, and nothing
here runs for it (no query on the ordinary order path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.core.db import require_transaction
from apps.core.money import quantize_money
from apps.loyalty.wallet.services import wallet_pay_in_transaction, wallet_refund_in_transaction

from .errors import InvalidOrder, PaymentsMismatch, WalletNeedsMember
from .models import Order, Refund

ZERO = Decimal("0.00")
WALLET = "wallet"
METHODS = (WALLET, "cash", "card", "wechat_pay", "alipay", "other")
METHOD_CHOICES = [
    (WALLET, _("Member card balance")),
    ("cash", _("Cash")),
    ("card", _("Bank card")),
    ("wechat_pay", _("WeChat Pay")),
    ("alipay", _("Alipay")),
    ("other", _("Other")),
]


def _wallet_key(order: Order) -> str:
    return f"order:{order.pk}:wallet"


def payments_normalise(payments: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """``[{"method", "amount"}]`` with known methods, positive cent amounts and one line per method."""
    result: dict[str, Decimal] = {}
    for payment in payments:
        method, amount = str(payment.get("method", "")), Decimal(str(payment.get("amount", "0")))
        if method not in METHODS:
            raise InvalidOrder(errors={"payments": [f"Unknown payment method {method!r}."]})
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOrder(errors={"payments": [f"{method}: {amount} is not a positive amount in cents."]})
        result[method] = result.get(method, ZERO) + quantize_money(amount)
    return [{"method": method, "amount": str(amount)} for method, amount in result.items()]


def order_payments_lines(
    *, total: Decimal, is_paid: bool, payments: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, str]]:
    """The order's split payments as stored on it (``refunded`` 0), checked before anything is written: known
    methods, positive amounts, adding up to the total, and only on a paid order. Empty for no ``payments``."""
    if not payments:
        return []
    lines = payments_normalise(payments)
    if not is_paid:
        raise InvalidOrder(errors={"payments": ["An unpaid order takes no payments."]})
    paid = sum((Decimal(p["amount"]) for p in lines), ZERO)
    if paid != total:
        raise PaymentsMismatch(f"The payments add up to {paid}; the order's total is {total}.")
    return [{**line, "refunded": "0.00"} for line in lines]


def order_payments_take_in_transaction(*, order: Order, payments: Sequence[Mapping[str, Any]] | None) -> None:
    """Record the order's split payments and take the wallet's share from the member's card, in the order's
    transaction: the payments must add up to the total; too little balance refuses the order (nothing booked).
    An order inserted with ``payments`` already set (from :func:`order_payments_lines`) is not written again."""
    if not payments:
        return
    require_transaction("order_payments_take_in_transaction")
    lines = order_payments_lines(total=order.total, is_paid=order.is_paid, payments=payments)
    for line in lines:
        if line["method"] != WALLET:
            continue
        if order.member_id is None:
            raise WalletNeedsMember("Name the member whose card pays.")
        wallet_pay_in_transaction(
            member_id=order.member_id,
            amount=Decimal(line["amount"]),
            reference=f"order:{order.number}",
            idempotency_key=_wallet_key(order),
        )
    if order.payments != lines:
        order.payments = lines
        Order.objects.filter(pk=order.pk).update(payments=lines)


def order_payments_refund_in_transaction(*, order: Order, refund: Refund, amount: Decimal) -> None:
    """Return ``amount`` (the refund's total; ``order.refunded_total`` already includes it) to the order's
    payments in proportion, cumulatively so cents add up; the wallet's share goes back to the card, principal
    and bonus in the payment's proportion. Orders paid by one method need nothing here."""
    if not order.payments or amount <= 0 or order.total <= 0:
        return
    require_transaction("order_payments_refund_in_transaction")
    payments = [dict(p) for p in order.payments]
    cumulative, given, back = order.refunded_total, ZERO, []
    for i, payment in enumerate(payments):
        paid, refunded = Decimal(payment["amount"]), Decimal(payment["refunded"])
        if i == len(payments) - 1:
            target = cumulative - given  # the last payment takes the rounding rest
        else:
            target = min(quantize_money(cumulative * paid / order.total), paid)
        given += target
        share = target - refunded
        if share <= 0:
            continue
        if payment["method"] == WALLET:
            wallet_refund_in_transaction(
                payment_key=_wallet_key(order),
                amount=share,
                reference=f"refund:{order.number}:{refund.external_id}"[:100],
                idempotency_key=f"refund:{refund.pk}:wallet",
            )
        payment["refunded"] = str(refunded + share)
        back.append({"method": payment["method"], "amount": str(share)})
    order.payments = payments
    refund.payments = back
    Order.objects.filter(pk=order.pk).update(payments=payments)
    Refund.objects.filter(pk=refund.pk).update(payments=back)


def order_payments_shown(order: Order) -> list[dict[str, str]]:
    """The payments an order echoes: as given, or one payment by its method for the total when paid."""
    if order.payments:
        return [{"method": p["method"], "amount": p["amount"]} for p in order.payments]
    if not order.is_paid:
        return []
    return [{"method": order.payment_method or "other", "amount": str(quantize_money(order.total))}]
