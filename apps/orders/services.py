"""Order writes: create (priced once, idempotent per channel and external id), refund, fulfil, verify.

Everything is checked before anything is written; the writes then run in one transaction so an error
leaves nothing half-written. Lock order: the order row (insert or ``select_for_update``), stock rows (by
sku_id, inside the catalog services), coupon rows, the member row (points, then spend).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db import models as db_models
from django.utils import timezone

from apps.catalog import services as stock
from apps.catalog.errors import OutOfStock
from apps.catalog.models import Sku
from apps.catalog.selectors import SkuPrice, sku_prices, sku_prices_from_rows, sku_prices_sql, stores_holding_all
from apps.core.bulk import insert_with_children
from apps.core.errors import IdempotencyConflict
from apps.core.money import MONEY_MAX, quantize_money
from apps.loyalty.selectors import Cart, CartLine, coupons_evaluate
from apps.loyalty.services import coupon_redeem, coupon_restore, points_earn_in_transaction, points_reverse
from apps.members.errors import MemberNotFound
from apps.members.models import Member, Tier
from apps.members.phones import phone_normalize
from apps.members.selectors import member_get
from apps.members.services import member_record_spend, member_record_spend_in_transaction
from apps.stores.models import Channel, Staff, Store

from .errors import (
    AlreadyVerified,
    CouponNotApplicable,
    InvalidOrder,
    InvalidVerificationCode,
    NotAVoucher,
    OrderNotFound,
    PriceMismatch,
    RefundExceedsOrder,
    UnknownGuide,
    UnknownMember,
    UnknownStore,
)
from .models import Order, OrderLine, Refund, RefundLine

ZERO = Decimal("0.00")
M = TypeVar("M", bound=db_models.Model)
F = Order.Fulfilment
_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: read aloud at a counter without doubt


def fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable digest of a request body: the same body twice gives the same digest."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def order_number_new(at: datetime) -> str:
    return timezone.localtime(at).strftime("%y%m%d") + "".join(secrets.choice(_B32) for _ in range(8))


POINTS_MAX = 2**31 - 1  # points columns are 32-bit integers


def verification_code_new() -> str:
    """Twelve random digits: 10^12 possibilities, unique index behind it."""
    return f"{secrets.randbelow(10**12):012d}"


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


_TIER_FIELDS = [f.attname for f in Tier._meta.concrete_fields]
# In model field order, as Model.from_db expects a partial row.
_MEMBER_FIELDS = [
    f.attname
    for f in Member._meta.concrete_fields
    if f.attname in {"id", "code", "status", "tier_id", "join_store_id", "recruited_by_id"}
]
_STATUS = _MEMBER_FIELDS.index("status")


def _member_by_phone(phone: str | None) -> Member | None:
    """The member by phone with its tier, in one raw query (``_lookups`` finds a member by code): only the
    fields an order needs are loaded (the others load on access, as with ``.only()``). None when the row is
    absent, merged or erased: then ``member_get`` decides (it follows merges and raises ``member_not_found``)."""
    if not phone:
        return None
    columns = ", ".join([f"m.{f}" for f in _MEMBER_FIELDS] + [f"t.{f}" for f in _TIER_FIELDS])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {Member._meta.db_table} m "
            f"LEFT JOIN {Tier._meta.db_table} t ON t.id = m.tier_id WHERE m.phone = %s LIMIT 1",
            [phone_normalize(phone)],
        )
        row = cursor.fetchone()
    if row is None or row[_STATUS] in (Member.Status.MERGED, Member.Status.ERASED):
        return None
    return _member_from_row(row)


@dataclass
class _Found:
    """What one query finds for a new order: an earlier order with its key, the store, the member by code,
    and the prices of the lines at the tier of that member (or list prices when no member was named)."""

    existing: tuple[int, str] | None
    store: Store | None
    member: Member | None  # None: not asked by code, absent, merged or erased (``member_get`` decides)
    price_rows: list[tuple] | None  # None: the prices need the member that ``member_get`` finds


def _lookups(
    channel_id: int, external_id: str, store: str | None, member: Mapping[str, str] | None, skus: list[str], at
) -> _Found:
    """The idempotency check, the active store, the member by code with its tier and the lines' prices at
    that tier in one query (each part as the separate lookups would find it; the caller raises their errors
    in the usual order)."""
    member_code = ((member or {}).get("code") or "").strip() or None
    member_columns = [f"m.{f}" for f in _MEMBER_FIELDS] + [f"t.{f}" for f in _TIER_FIELDS]
    params: dict[str, Any] = {
        "channel": channel_id, "external_id": external_id, "store": store or None, "active": True,
        "member": member_code, "at": at, **{f"c{i}": code for i, code in enumerate(skus)},
    }  # fmt: skip
    # An active member's tier prices the lines; a member named only by phone, or merged, is priced later, and
    # so is every order on the SQLite demo (no LATERAL there).
    priced_here = bool(skus) and (member_code is not None or not member) and connection.vendor == "postgresql"
    prices = ""
    if priced_here:
        tier = "CASE WHEN m.status = 'active' THEN m.tier_id END"
        prices = f" LEFT JOIN LATERAL ({sku_prices_sql(skus, tier_sql=tier)}) pr ON true"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.id, o.fingerprint, s.id, s.code, {', '.join(member_columns)}{', pr.*' if priced_here else ''} "
            f"FROM (SELECT 1 AS one) x "
            f"LEFT JOIN {Order._meta.db_table} o ON o.channel_id = %(channel)s AND o.external_id = %(external_id)s "
            f"LEFT JOIN {Store._meta.db_table} s ON s.code = %(store)s AND s.is_active = %(active)s "
            f"LEFT JOIN {Member._meta.db_table} m ON m.code = %(member)s "
            f"LEFT JOIN {Tier._meta.db_table} t ON t.id = m.tier_id{prices}",
            params,
        )
        rows = cursor.fetchall()
    row = rows[0]
    found = _Found(
        existing=(row[0], row[1]) if row[0] is not None else None,
        store=_from_row(Store, ["id", "code"], row[2:4]) if row[2] is not None else None,
        member=None,
        price_rows=None,
    )
    member_row = row[4 : 4 + len(member_columns)]
    if member_row[0] is not None and member_row[_STATUS] not in (Member.Status.MERGED, Member.Status.ERASED):
        found.member = _member_from_row(member_row)
    if priced_here and (member_code is None or found.member is not None):
        prices_at = 4 + len(member_columns)  # the columns of catalog's price query follow the member's
        found.price_rows = [r[prices_at:] for r in rows if r[prices_at] is not None]
    return found


@cache
def _fields_by_attname(model: type[db_models.Model]) -> dict[str, db_models.Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


def _from_row(model: type[M], attnames: Sequence[str], values: Sequence[Any]) -> M:
    """A model instance from a raw row, values converted as the ORM would (SQLite returns decimals as floats)."""
    converted = []
    fields = _fields_by_attname(model)
    for attname, value in zip(attnames, values, strict=True):
        field = fields[attname]
        column = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, attnames, converted)


def _member_from_row(row: Sequence[Any]) -> Member:
    found = _from_row(Member, _MEMBER_FIELDS, row[: len(_MEMBER_FIELDS)])
    tier_row = row[len(_MEMBER_FIELDS) :]
    found.tier = _from_row(Tier, _TIER_FIELDS, tier_row) if found.tier_id is not None else None
    return found


def _member(member: Mapping[str, str] | None) -> Member | None:
    """The member ``_lookups`` did not find by code: by phone, or a merged, erased or unknown code."""
    if not member:
        return None
    code, phone = member.get("code") or None, member.get("phone") or None
    try:
        return (None if code else _member_by_phone(phone)) or member_get(code=code, phone=phone)
    except MemberNotFound as exc:  # an order naming an unknown member is bad input, not a missing resource
        raise UnknownMember(exc.detail) from exc


def _store(code: str | None) -> Store | None:
    """The active store by code; only id and code are loaded (the rest loads on access)."""
    if not code:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, code FROM {Store._meta.db_table} WHERE code = %s AND is_active = %s LIMIT 1", [code, True]
        )
        row = cursor.fetchone()
    if row is None:
        raise UnknownStore(f"There is no active store {code}.")
    return _from_row(Store, ["id", "code"], row)


def _guide(code: str | None) -> Staff | None:
    if not code:
        return None
    found = Staff.objects.filter(code=code, is_active=True).first()
    if found is None:
        raise UnknownGuide(f"There is no active staff member {code}.")
    return found


def _lock_member(member_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Member._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [member_id])


def _earlier(external_id: str, earlier: tuple[int, str], digest: str) -> Order:
    """The order already posted under ``external_id`` (its id and fingerprint) if this body is the same."""
    if earlier[1] != digest:
        raise IdempotencyConflict(f"Order {external_id} was already posted with a different body.")
    return Order.objects.get(pk=earlier[0])


def _existing(channel_id: int, external_id: str, digest: str) -> Order | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, fingerprint FROM {Order._meta.db_table} WHERE channel_id = %s AND external_id = %s",
            [channel_id, external_id],
        )
        row = cursor.fetchone()
    return None if row is None else _earlier(external_id, row, digest)


def order_create(
    *,
    channel: Channel,
    external_id: str,
    lines: Sequence[Mapping[str, Any]],
    store: str | None = None,
    placed_at: datetime | None = None,
    member: Mapping[str, str] | None = None,
    guide: str | None = None,
    coupon_codes: Sequence[str] = (),
    fulfilment: str = F.IN_STORE,
    delivery: Mapping[str, Any] | None = None,
    paid: bool = True,
    payment_method: str = "",
) -> tuple[Order, bool]:
    """Price and book one channel order once; ``(order, created)``. Same body again: the first order."""
    payload = {
        "external_id": external_id, "lines": [dict(line) for line in lines], "store": store,
        "placed_at": placed_at, "member": dict(member or {}), "guide": guide, "coupon_codes": list(coupon_codes),
        "fulfilment": fulfilment, "delivery": dict(delivery or {}), "paid": paid, "payment_method": payment_method,
    }  # fmt: skip
    digest = fingerprint(payload)
    now = timezone.now()
    placed_at = min(placed_at or now, now)
    skus = list(dict.fromkeys(line["sku"] for line in lines))
    found = _lookups(channel.pk, external_id, store, member, skus, placed_at)
    if found.existing is not None:
        return _earlier(external_id, found.existing, digest), False

    if not lines:
        raise InvalidOrder(errors={"lines": ["An order needs at least one line."]})
    for line in lines:
        if int(line["quantity"]) <= 0:
            raise InvalidOrder(errors={"lines": [f"Quantity of {line['sku']} must be positive."]})
    if fulfilment not in F.values:
        raise InvalidOrder(errors={"fulfilment": [f"Unknown fulfilment {fulfilment}."]})
    if store and found.store is None:
        raise UnknownStore(f"There is no active store {store}.")
    the_store = found.store
    the_guide = _guide(guide)
    the_member = found.member or _member(member)
    if the_store is None and fulfilment in (F.IN_STORE, F.PICKUP):
        raise InvalidOrder(errors={"store": ["A store is needed for in-store and pickup orders."]})
    if fulfilment == F.DELIVERY and the_store is None and not (delivery and "lat" in delivery and "lng" in delivery):
        raise InvalidOrder(errors={"delivery": ["Give the delivery lat and lng, or a store."]})

    tier = the_member.tier if the_member else None
    if found.price_rows is not None:
        prices = sku_prices_from_rows(skus, found.price_rows, with_member=the_member is not None)
    else:
        prices = sku_prices(skus=skus, tier_id=tier.pk if tier else None, at=placed_at)
    priced = [PricedLine(prices[line["sku"]], int(line["quantity"]), prices[line["sku"]].price) for line in lines]
    if sum((p.subtotal for p in priced), ZERO) > MONEY_MAX:
        raise InvalidOrder(
            errors={"lines": [f"The order comes to more than {MONEY_MAX}, the most one order can book."]}
        )
    wrong = [
        f"{line['sku']}: {line['unit_price']} given, {p.unit_price} is the price"
        for line, p in zip(lines, priced, strict=True)
        if line.get("unit_price") is not None and quantize_money(line["unit_price"]) != p.unit_price
    ]
    if wrong:
        raise PriceMismatch("; ".join(wrong))

    applied: list[str] = []
    if coupon_codes:
        cart = Cart(
            member_id=the_member.pk if the_member else None,
            store_id=the_store.pk if the_store else None,
            channel_id=channel.pk,
            lines=[CartLine(p.price.sku_id, p.price.category_id, p.quantity, p.unit_price) for p in priced],
        )
        for evaluation in coupons_evaluate(cart=cart, codes=coupon_codes, at=placed_at):
            if not evaluation.applies:
                raise CouponNotApplicable(f"{evaluation.code}: {evaluation.reason}")
            indexes = evaluation.line_indexes or list(range(len(priced)))
            shares = spread_discount([priced[i].total for i in indexes], evaluation.discount)
            for i, share in zip(indexes, shares, strict=True):
                priced[i].discount += share
            applied.append(evaluation.code)

    subtotal = quantize_money(sum((p.subtotal for p in priced), ZERO))
    discount_total = sum((p.discount for p in priced), ZERO)
    total = subtotal - discount_total
    points = 0
    if the_member is not None and tier is not None and paid:
        points = int((total * tier.points_per_yuan).to_integral_value(rounding=ROUND_FLOOR))
        if points > POINTS_MAX:
            raise InvalidOrder(errors={"lines": ["The order would earn more points than a balance can hold."]})

    is_online = channel.kind != Channel.Kind.POS
    credited_store_id = the_store.pk if the_store else None
    credited_guide_id = the_guide.pk if the_guide else None
    if is_online and the_member is not None:
        credited_store_id = the_member.join_store_id or credited_store_id
        credited_guide_id = credited_guide_id or the_member.recruited_by_id
    stock_lines = [(p.price.sku_id, p.quantity) for p in priced]

    try:
        with transaction.atomic():
            if fulfilment == F.DELIVERY and the_store is None:
                nearest = stores_holding_all(
                    lines=stock_lines, lat=float(delivery["lat"]), lng=float(delivery["lng"]), limit=1
                )
                if not nearest:
                    raise OutOfStock(detail="No store holds every line of this order in stock.")
                the_store = nearest[0][0]
                credited_store_id = credited_store_id or the_store.pk
            order = Order(
                number=order_number_new(placed_at),
                channel=channel,
                external_id=external_id,
                fingerprint=digest,
                store=the_store,
                member=the_member,
                guide=the_guide,
                credited_store_id=credited_store_id,
                credited_guide_id=credited_guide_id,
                is_online=is_online,
                status=Order.Status.COMPLETED if fulfilment == F.IN_STORE else Order.Status.PLACED,
                fulfilment=fulfilment,
                is_fulfilled=fulfilment == F.IN_STORE,
                delivery_address=str((delivery or {}).get("address", ""))[:255],
                placed_at=placed_at,
                is_paid=paid,
                payment_method=payment_method[:32],
                subtotal=subtotal,
                discount_total=discount_total,
                total=total,
                points_earned=points,
                coupons_applied=applied,
                verification_code=verification_code_new() if fulfilment == F.VOUCHER else None,
            )
            order_lines = [
                OrderLine(
                    position=i,
                    sku=Sku(pk=p.price.sku_id, code=p.price.sku),  # what rendering needs, without a query
                    quantity=p.quantity,
                    unit_price=p.unit_price,
                    discount=p.discount,
                    total=p.total,
                )
                for i, p in enumerate(priced, start=1)
            ]
            insert_with_children(order, order_lines, "order")  # one statement on PostgreSQL
            order._prefetched_objects_cache = {"lines": order_lines}
            reference = f"order:{order.number}"
            # The services below run without savepoints of their own: any error rolls this whole transaction back.
            if fulfilment == F.IN_STORE:
                stock.stock_sell_in_transaction(store_id=the_store.pk, lines=stock_lines, reference=reference)
            elif fulfilment in (F.PICKUP, F.DELIVERY):
                stock.stock_reserve_in_transaction(store_id=the_store.pk, lines=stock_lines, reference=reference)
            for code in applied:
                coupon_redeem(
                    code=code,
                    store_id=the_store.pk if the_store else None,
                    channel_id=channel.pk,
                    order_number=order.number,
                    member_id=the_member.pk if the_member else None,
                )
            if the_member is not None and paid:
                _lock_member(the_member.pk)  # points, then spend, as points_earn and member_record_spend do
                if points:
                    points_earn_in_transaction(
                        member_id=the_member.pk,
                        points=points,
                        reference=reference,
                        idempotency_key=f"order:{order.pk}:earn",
                        at=placed_at,
                    )
                member_record_spend_in_transaction(
                    member_id=the_member.pk, amount=total, at=placed_at, reference=reference
                )
    except IntegrityError:
        # Another request with this (channel, external_id) committed first: answer with its order.
        existing = _existing(channel.pk, external_id, digest)
        if existing is None:
            raise
        return existing, False
    return order, True


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update(no_key=True).get(pk=order.pk)


@transaction.atomic
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


@transaction.atomic
def order_verify_voucher(*, number: str, verification_code: str, store: str) -> Order:
    """Consume a voucher in a store, once: one conditional UPDATE decides; the goods leave that store."""
    # Codes typed with a Chinese input method come as full-width digits, often with (full-width) spaces.
    verification_code = "".join(unicodedata.normalize("NFKC", verification_code).split())
    the_store = _store(store)
    now = timezone.now()
    updated = Order.objects.filter(
        number=number,
        fulfilment=F.VOUCHER,
        verification_code=verification_code,
        verified_at__isnull=True,
        status=Order.Status.PLACED,
    ).update(verified_at=now, verified_store=the_store, is_fulfilled=True, status=Order.Status.COMPLETED)
    order = Order.objects.filter(number=number).first()
    if order is None:
        raise OrderNotFound(f"There is no order {number}.")
    if order.fulfilment != F.VOUCHER:
        raise NotAVoucher(f"Order {number} is not a voucher.")
    if not secrets.compare_digest((order.verification_code or "").encode(), verification_code.encode()):
        raise InvalidVerificationCode()
    if not updated:
        if order.verified_at is not None:
            raise AlreadyVerified(f"Verified on {timezone.localtime(order.verified_at):%Y-%m-%d %H:%M}.")
        raise AlreadyVerified(f"Order {number} was refunded.")
    lines = [(line.sku_id, line.quantity) for line in order.lines.all()]
    stock.stock_sell(store_id=the_store.pk, lines=lines, reference=f"order:{order.number}:verify")
    return order


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
    with transaction.atomic():
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
        refund.refund_total = total
        refund.save(update_fields=["refund_total", "points_reversed", "points_shortfall"])
        order.save(update_fields=["refunded_total", "status"])
    return refund, True


def orders_merge(*, survivor_id: int, merged_id: int) -> dict[str, int]:
    """Move a merged member's orders to the survivor (a merge hook, inside the merge transaction)."""
    return {"orders": Order.objects.filter(member_id=merged_id).update(member_id=survivor_id)}
