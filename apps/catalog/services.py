"""Writes of the catalog: the price list, member prices, channel listings and stock.

Stock locking policy: every service changes stock with conditional UPDATEs (``... WHERE on_hand -
reserved >= q``), one per line, in ascending (store_id, sku_id) order, so concurrent sales of the last
item cannot both succeed and concurrent multi-line orders cannot deadlock. If any line fails, the
service raises and its savepoint rolls every line back. Each change is recorded as a ``StockMovement``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.db import require_transaction
from apps.core.errors import ValidationFailed
from apps.core.money import parse_money

from .errors import (
    InvalidPrice,
    InvalidQuantity,
    OutOfStock,
    PriceChangeInPast,
    PriceHistoryLocked,
    ReservationMissing,
    UnknownSku,
)
from .models import ChannelListing, PriceChange, Sku, Stock, StockMovement, TierPrice
from .selectors import stock_shortfall

Lines = Sequence[tuple[int, int]]


# --- prices -------------------------------------------------------------------------------------------


def _valid_price(price: Decimal | str) -> Decimal:
    try:
        return parse_money(str(price))
    except ValueError as exc:
        raise InvalidPrice(str(exc)) from None


@transaction.atomic
def price_change_schedule(
    *,
    sku: Sku,
    price: Decimal | str,
    valid_from: datetime | None = None,
    user=None,
    source: str = PriceChange.Source.ADMIN,
    note: str = "",
) -> PriceChange:
    """Schedule ``price`` for ``sku`` from ``valid_from`` (default: now) on every channel; never in the past.

    A change already scheduled for the same instant (still in the future) is replaced.
    """
    now = timezone.now()
    price = _valid_price(price)
    if valid_from is None:
        valid_from = now
    elif valid_from < now:
        raise PriceChangeInPast(f"{valid_from.isoformat()} is in the past; price changes start now or later.")
    existing = PriceChange.objects.select_for_update().filter(sku=sku, valid_from=valid_from).first()
    if existing is not None:
        existing.price, existing.note, existing.created_by, existing.source = price, note, user, source
        existing.save(update_fields=["price", "note", "created_by", "source"])
        return existing
    return PriceChange.objects.create(
        sku=sku, price=price, valid_from=valid_from, created_by=user, source=source, note=note
    )


def _upcoming(change: PriceChange) -> PriceChange:
    locked = PriceChange.objects.select_for_update().get(pk=change.pk)
    if locked.valid_from <= timezone.now():
        raise PriceHistoryLocked(f"This price took effect at {locked.valid_from.isoformat()}; schedule a new change.")
    return locked


@transaction.atomic
def price_change_update(
    *, change: PriceChange, price: Decimal | str, valid_from: datetime, user=None, note: str = ""
) -> PriceChange:
    """Change an upcoming price change; one that has taken effect is history and stays as it is."""
    locked = _upcoming(change)
    if valid_from < timezone.now():
        raise PriceChangeInPast(f"{valid_from.isoformat()} is in the past; price changes start now or later.")
    locked.price, locked.valid_from, locked.note, locked.created_by = _valid_price(price), valid_from, note, user
    locked.save(update_fields=["price", "valid_from", "note", "created_by"])
    return locked


@transaction.atomic
def price_change_cancel(*, change: PriceChange) -> None:
    """Cancel an upcoming price change; history cannot be deleted."""
    _upcoming(change).delete()


@transaction.atomic
def tier_price_set(*, sku: Sku, tier_id: int, price: Decimal | str) -> TierPrice:
    """Set what members of a tier pay for a SKU (the lower of it and the list price applies)."""
    tier_price, _created = TierPrice.objects.update_or_create(
        sku=sku, tier_id=tier_id, defaults={"price": _valid_price(price)}
    )
    return tier_price


@transaction.atomic
def tier_price_remove(*, sku_id: int, tier_id: int) -> bool:
    """Stop giving a tier its own price for a SKU (its members pay the list price again)."""
    deleted, _by_model = TierPrice.objects.filter(sku_id=sku_id, tier_id=tier_id).delete()
    return deleted > 0


@transaction.atomic
def channel_listings_report(*, channel_id: int, listings: Sequence[tuple[str, Decimal]]) -> int:
    """Record what a channel lists SKUs at (the latest report per SKU wins); unknown codes: nothing stored."""
    prices = {code: _valid_price(price) for code, price in listings}
    ids = dict(Sku.objects.filter(code__in=prices).values_list("code", "pk"))
    missing = sorted(set(prices) - set(ids))
    if missing:
        raise UnknownSku(missing)
    now = timezone.now()
    rows = [
        ChannelListing(channel_id=channel_id, sku_id=ids[code], listed_price=price, reported_at=now)
        for code, price in prices.items()
    ]
    ChannelListing.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["channel", "sku"],
        update_fields=["listed_price", "reported_at"],
    )
    return len(rows)


# --- stock --------------------------------------------------------------------------------------------


def _ordered(lines: Lines) -> list[tuple[int, int]]:
    """Merge duplicate SKUs and sort by sku_id (the lock order); quantities must be positive integers."""
    merged: dict[int, int] = {}
    for sku_id, quantity in lines:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidQuantity(f"{quantity!r} is not a positive whole number (SKU id {sku_id}).")
        merged[int(sku_id)] = merged.get(int(sku_id), 0) + quantity
    if not merged:
        raise InvalidQuantity("No lines given.")
    return sorted(merged.items())


def _record(store_id: int, moves: list[tuple[int, int, int]], kind: str, reference: str, now=None) -> None:
    now = now or timezone.now()
    StockMovement.objects.bulk_create(
        StockMovement(
            store_id=store_id,
            sku_id=sku_id,
            kind=kind,
            on_hand_delta=on_hand_delta,
            reserved_delta=reserved_delta,
            reference=reference,
            created_at=now,
        )
        for sku_id, on_hand_delta, reserved_delta in moves
    )


def _take(store_id: int, lines: list[tuple[int, int]], *, on_hand: int, reserved: int, kind: str, reference: str):
    """Apply ``on_hand``/``reserved`` signs x quantity per line, each only if the stock allows it."""
    from_reserved = reserved < 0  # release and pick-up consume reservations; sale and reserve consume availability
    failed: list[tuple[int, int]] = []
    for index, (sku_id, quantity) in enumerate(lines):
        rows = Stock.objects.filter(store_id=store_id, sku_id=sku_id)
        if from_reserved:
            rows = rows.filter(reserved__gte=quantity)
        else:
            rows = rows.filter(on_hand__gte=F("reserved") + quantity)
        changes = {}
        if on_hand:
            changes["on_hand"] = F("on_hand") + on_hand * quantity
        if reserved:
            changes["reserved"] = F("reserved") + reserved * quantity
        if rows.update(**changes, updated_at=timezone.now()) != 1:
            failed = lines[index:]  # earlier lines are already changed (and about to be rolled back)
            break
    if failed:
        short, detail = stock_shortfall(store_id=store_id, lines=failed, reserved_only=from_reserved)
        error = ReservationMissing(detail) if from_reserved else OutOfStock(short or [failed[0][0]], detail or None)
        raise error
    _record(store_id, [(s, on_hand * q, reserved * q) for s, q in lines], kind, reference)


@transaction.atomic
def stock_sell(*, store_id: int, lines: Lines, reference: str) -> None:
    """Sell from available stock (on hand less reserved); all lines or none (``OutOfStock``)."""
    _take(store_id, _ordered(lines), on_hand=-1, reserved=0, kind=StockMovement.Kind.SALE, reference=reference)


def _take_available(
    store_id: int, lines: list[tuple[int, int]], *, on_hand: int, reserved: int, kind: str, reference: str
):
    """``_take`` from available stock for a caller whose transaction rolls back whole on an error.

    One statement: lock the rows in sku_id order (the lock order of every stock service), apply
    the conditional UPDATE to each (READ COMMITTED re-checks the condition on the latest row version), and
    record the movements only if every line was taken. A short line raises ``OutOfStock`` as ``_take`` does;
    lines already changed are rolled back with the caller's transaction.
    """
    table, movements = Stock._meta.db_table, StockMovement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH want AS (SELECT * FROM unnest(%(skus)s::bigint[], %(qs)s::integer[]) AS w(sku_id, q)), "
            f"locked AS MATERIALIZED (SELECT s.id FROM {table} s WHERE s.store_id = %(store)s "
            f"AND s.sku_id = ANY(%(skus)s::bigint[]) ORDER BY s.sku_id FOR NO KEY UPDATE), "
            f"taken AS (UPDATE {table} s SET on_hand = s.on_hand + %(oh)s * w.q, "
            f"reserved = s.reserved + %(rs)s * w.q, updated_at = %(now)s FROM want w "
            f"WHERE s.id IN (SELECT id FROM locked) AND s.store_id = %(store)s AND s.sku_id = w.sku_id "
            f"AND s.on_hand >= s.reserved + w.q RETURNING s.sku_id), "
            f"moved AS (INSERT INTO {movements} (store_id, sku_id, kind, on_hand_delta, reserved_delta, reference, "
            f"created_at) SELECT %(store)s, w.sku_id, %(kind)s, %(oh)s * w.q, %(rs)s * w.q, %(reference)s, %(now)s "
            f"FROM want w WHERE (SELECT count(*) FROM taken) = %(n)s ORDER BY w.sku_id) "
            f"SELECT sku_id FROM taken",
            {
                "skus": [sku_id for sku_id, _q in lines],
                "qs": [quantity for _s, quantity in lines],
                "store": store_id,
                "oh": on_hand,
                "rs": reserved,
                "now": timezone.now(),
                "kind": kind,
                "reference": reference,
                "n": len(lines),
            },
        )
        taken = {row[0] for row in cursor.fetchall()}
    if len(taken) != len(lines):
        failed = [line for line in lines if line[0] not in taken]
        short, detail = stock_shortfall(store_id=store_id, lines=failed)
        raise OutOfStock(short or [failed[0][0]], detail or None)


def stock_sell_in_transaction(*, store_id: int, lines: Lines, reference: str) -> None:
    """``stock_sell`` without a savepoint, for a caller whose transaction rolls back whole on any error."""
    require_transaction("stock_sell_in_transaction")
    _take_available(
        store_id, _ordered(lines), on_hand=-1, reserved=0, kind=StockMovement.Kind.SALE, reference=reference
    )


def stock_reserve_in_transaction(*, store_id: int, lines: Lines, reference: str) -> None:
    """``stock_reserve`` without a savepoint, for a caller whose transaction rolls back whole on any error."""
    require_transaction("stock_reserve_in_transaction")
    _take_available(
        store_id, _ordered(lines), on_hand=0, reserved=1, kind=StockMovement.Kind.RESERVATION, reference=reference
    )


@transaction.atomic
def stock_reserve(*, store_id: int, lines: Lines, reference: str) -> None:
    """Hold available stock for a pickup or voucher order; all lines or none (``OutOfStock``)."""
    _take(store_id, _ordered(lines), on_hand=0, reserved=1, kind=StockMovement.Kind.RESERVATION, reference=reference)


@transaction.atomic
def stock_release(*, store_id: int, lines: Lines, reference: str) -> None:
    """Give reserved stock back to availability (order cancelled)."""
    _take(store_id, _ordered(lines), on_hand=0, reserved=-1, kind=StockMovement.Kind.RELEASE, reference=reference)


@transaction.atomic
def stock_fulfil_reserved(*, store_id: int, lines: Lines, reference: str) -> None:
    """Hand reserved items to the customer: reserved and on hand both go down."""
    _take(store_id, _ordered(lines), on_hand=-1, reserved=-1, kind=StockMovement.Kind.FULFILMENT, reference=reference)


def _add(store_id: int, lines: list[tuple[int, int]], *, kind: str, reference: str) -> None:
    table = Stock._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        for sku_id, quantity in lines:
            cursor.execute(
                f"INSERT INTO {table} (store_id, sku_id, on_hand, reserved, updated_at) VALUES (%s, %s, %s, 0, %s) "
                f"ON CONFLICT (store_id, sku_id) DO UPDATE SET on_hand = {table}.on_hand + EXCLUDED.on_hand, "
                "updated_at = EXCLUDED.updated_at",
                [store_id, sku_id, quantity, now],
            )
    _record(store_id, [(s, q, 0) for s, q in lines], kind, reference, now)


@transaction.atomic
def stock_return(*, store_id: int, lines: Lines, reference: str) -> None:
    """Put refunded or returned items back on hand in the store that takes them."""
    _add(store_id, _ordered(lines), kind=StockMovement.Kind.REFUND, reference=reference)


@transaction.atomic
def stock_transfer(*, from_store_id: int, to_store_id: int, lines: Lines, reference: str) -> None:
    """Move available stock between stores; the source must have it all (``OutOfStock``)."""
    if from_store_id == to_store_id:
        raise ValidationFailed("A transfer needs two different stores.")
    ordered = _ordered(lines)
    steps = [(from_store_id, "take"), (to_store_id, "add")]
    for store_id, step in sorted(steps):  # lower store id first: opposite transfers cannot deadlock
        if step == "take":
            _take(store_id, ordered, on_hand=-1, reserved=0, kind=StockMovement.Kind.TRANSFER, reference=reference)
        else:
            _add(store_id, ordered, kind=StockMovement.Kind.TRANSFER, reference=reference)


@transaction.atomic
def stock_set_quantity(*, store_id: int, sku_id: int, quantity: int, reference: str) -> StockMovement | None:
    """Set the quantity on hand after a count; the difference is recorded as an adjustment."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise InvalidQuantity(f"{quantity!r} is not a whole number of 0 or more.")
    stock, _created = Stock.objects.select_for_update().get_or_create(store_id=store_id, sku_id=sku_id)
    if quantity < stock.reserved:
        raise InvalidQuantity(f"{stock.reserved} are reserved; the quantity on hand cannot be less.")
    delta = quantity - stock.on_hand
    if delta == 0:
        return None
    stock.on_hand = quantity
    stock.save(update_fields=["on_hand", "updated_at"])
    return StockMovement.objects.create(
        store_id=store_id,
        sku_id=sku_id,
        kind=StockMovement.Kind.ADJUSTMENT,
        on_hand_delta=delta,
        reserved_delta=0,
        reference=reference,
        created_at=timezone.now(),
    )
