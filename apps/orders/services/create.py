"""Creating an order: priced once from the draft, idempotent per channel and external id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.catalog import services as stock
from apps.catalog.errors import OutOfStock
from apps.catalog.models import Sku
from apps.catalog.selectors import sku_prices, sku_prices_from_rows, sku_prices_sql, stores_holding_all
from apps.core.bulk import insert_with_children
from apps.core.errors import IdempotencyConflict
from apps.core.money import MONEY_MAX, quantize_money
from apps.loyalty.services import (
    coupons_spend_in_transaction,
    points_earn_in_transaction,
)
from apps.members.errors import MemberNotFound
from apps.members.models import Member, Tier
from apps.members.selectors import member_get
from apps.members.services import member_record_spend_in_transaction
from apps.stores.models import Channel, Staff, Store

from ..credit import order_credit
from ..drafts import order_draft
from ..errors import (
    InvalidOrder,
    PriceMismatch,
    UnknownGuide,
    UnknownMember,
    UnknownStore,
)
from ..models import Order, OrderLine
from ..payments import order_payments_lines, order_payments_take_in_transaction
from .common import (
    F,
    _from_row,
    fingerprint,
    order_number_new,
    verification_code_new,
)

_TIER_FIELDS = [f.attname for f in Tier._meta.concrete_fields]
# In model field order, as Model.from_db expects a partial row.
_MEMBER_FIELDS = [
    f.attname
    for f in Member._meta.concrete_fields
    if f.attname in {"id", "code", "status", "tier_id", "join_store_id", "recruited_by_id"}
]
_STATUS = _MEMBER_FIELDS.index("status")


@dataclass
class _Found:
    """What one query finds for a new order: an earlier order with its key, the store, the member by code,
    and the prices of the lines at the tier of that member (or list prices when no member was named)."""

    existing: tuple[int, str] | None
    store: Store | None
    member: Member | None  # None: not asked by code, absent, merged or erased (``member_get`` decides)
    price_rows: list[tuple] | None  # None: the prices need the member that ``member_get`` finds


POINTS_MAX = 2**31 - 1  # points columns are 32-bit integers


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
    # An active member's tier prices the lines; a member named only by phone, or merged, is priced later.
    priced_here = bool(skus) and (member_code is not None or not member)
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
        return member_get(code=code, phone=phone)  # the one resolver: any phone form, merges followed
    except MemberNotFound as exc:  # an order naming an unknown member is bad input, not a missing resource
        raise UnknownMember(exc.detail) from exc


def _guide(code: str | None) -> Staff | None:
    if not code:
        return None
    found = Staff.objects.filter(code=code, is_active=True).first()
    if found is None:
        raise UnknownGuide(f"There is no active staff member {code}.")
    return found


def _lock_member(member_id: int) -> None:
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
    payments: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Order, bool]:
    """Price and book one channel order once; ``(order, created)``. Same body again: the first order."""
    payload = {
        "external_id": external_id, "lines": [dict(line) for line in lines], "store": store,
        "placed_at": placed_at, "member": dict(member or {}), "guide": guide, "coupon_codes": list(coupon_codes),
        "fulfilment": fulfilment, "delivery": dict(delivery or {}), "paid": paid, "payment_method": payment_method,
    }  # fmt: skip
    if payments:  # only when given, so the digests of orders posted without payments stay as they were
        payload["payments"] = [dict(p) for p in payments]
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
    draft = order_draft(
        prices=prices,
        lines=[(line["sku"], int(line["quantity"])) for line in lines],
        member_id=the_member.pk if the_member else None,
        store_id=the_store.pk if the_store else None,
        channel_id=channel.pk,
        coupon_codes=coupon_codes,
        at=placed_at,
    )
    priced = draft.lines
    if draft.subtotal > MONEY_MAX:
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
    if draft.refused:
        error = draft.refused[0].error
        assert error is not None  # a refused evaluation always says why
        raise error  # the precise reason: coupon_min_spend, coupon_not_yours ...
    applied = draft.applied
    subtotal, discount_total, total = draft.subtotal, draft.discount_total, draft.total
    points = 0
    if the_member is not None and tier is not None and paid:
        points = int((total * tier.points_per_yuan).to_integral_value(rounding=ROUND_FLOOR))
        if points > POINTS_MAX:
            raise InvalidOrder(errors={"lines": ["The order would earn more points than a balance can hold."]})

    is_online = channel.kind != Channel.Kind.POS
    credited_store_id, credited_guide_id = order_credit(
        is_online=is_online,
        store_id=the_store.pk if the_store else None,
        guide_id=the_guide.pk if the_guide else None,
        member=the_member,
    )
    stock_lines = [(p.price.sku_id, p.quantity) for p in priced]
    payment_lines = order_payments_lines(total=total, is_paid=paid, payments=payments)  # checked before writing

    try:
        with transaction.atomic(durable=True):  # the outermost transaction: every caller is an edge
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
                payments=payment_lines,
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
            if applied:
                coupons_spend_in_transaction(
                    codes=applied,
                    store_id=the_store.pk if the_store else None,
                    channel_id=channel.pk,
                    order_number=order.number,
                    at=placed_at,
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
            order_payments_take_in_transaction(order=order, payments=payments)  # the wallet is locked last
    except IntegrityError:
        # Another request with this (channel, external_id) committed first: answer with its order.
        existing = _existing(channel.pk, external_id, digest)
        if existing is None:
            raise
        return existing, False
    return order, True
