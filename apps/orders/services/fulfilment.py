"""Handing over pickups and deliveries, and verifying vouchers in a store."""

from __future__ import annotations

import secrets
import unicodedata

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog import services as stock

from ..errors import (
    AlreadyVerified,
    InvalidVerificationCode,
    NotAVoucher,
    OrderNotFound,
    VoucherWrongStore,
)
from ..models import Order
from .common import (
    F,
    _lock,
    _store,
)


@transaction.atomic(durable=True)
def order_fulfil(*, order: Order) -> Order:
    """Hand over a pickup or dispatch a delivery: the reserved stock leaves the store."""
    order = _lock(order)
    if order.is_fulfilled or order.fulfilment not in (F.PICKUP, F.DELIVERY):
        return order
    lines = list(order.lines.all())
    pending = [(line.sku_id, line.quantity - line.refunded_quantity) for line in lines]
    pending = [line for line in pending if line[1] > 0]
    if pending:
        stock.stock_fulfil_reserved(store_id=order.store_id, lines=pending, reference=f"order:{order.number}")
    order.is_fulfilled = True
    if order.status == Order.Status.PLACED:
        order.status = Order.Status.COMPLETED
    order.save(update_fields=["is_fulfilled", "status"])
    return order


@transaction.atomic(durable=True)
def order_verify_voucher(*, number: str, verification_code: str, store: str) -> Order:
    """Consume a voucher in a store, once: one conditional UPDATE decides; the goods leave that store.

    A voucher bound to a store (sold for it) is used only there, whoever asks: the API or a clerk page.
    """
    # Codes typed with a Chinese input method come as full-width digits, often with (full-width) spaces.
    verification_code = "".join(unicodedata.normalize("NFKC", verification_code).split())
    the_store = _store(store)
    order = Order.objects.select_related("store").filter(number=number).first()
    if order is None:
        raise OrderNotFound(f"There is no order {number}.")
    if order.fulfilment != F.VOUCHER:
        raise NotAVoucher(f"Order {number} is not a voucher.")
    if not secrets.compare_digest((order.verification_code or "").encode(), verification_code.encode()):
        raise InvalidVerificationCode()
    if order.store_id is not None and order.store_id != the_store.pk:
        raise VoucherWrongStore(
            _("This voucher can only be used at %(store)s, not in this store.") % {"store": order.store.name}
        )
    updated = Order.objects.filter(
        pk=order.pk,
        verification_code=verification_code,
        verified_at__isnull=True,
        status=Order.Status.PLACED,
    ).update(verified_at=timezone.now(), verified_store=the_store, is_fulfilled=True, status=Order.Status.COMPLETED)
    order.refresh_from_db()
    if not updated:
        if order.verified_at is not None:
            raise AlreadyVerified(f"Verified on {timezone.localtime(order.verified_at):%Y-%m-%d %H:%M}.")
        raise AlreadyVerified(f"Order {number} was refunded.")
    lines = [(line.sku_id, line.quantity) for line in order.lines.all()]
    stock.stock_sell(store_id=the_store.pk, lines=lines, reference=f"order:{order.number}:verify")
    return order
