"""Reads of the catalog: prices (one query for any number of SKUs), availability, stores holding an order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from apps.core.money import quantize_money
from apps.stores.models import Store
from apps.stores.selectors import distance_km, validate_location

from .errors import UnknownSku
from .models import ChannelListing, PriceChange, Sku, Stock

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class SkuPrice:
    """What a SKU costs at one instant, the same on every channel.

    ``member_price`` is the tier's price: its explicit member price (tier_prices) or, where the tier has
    none, the list price less the tier's ``discount_percent``; ``None`` without a tier or a member price.
    ``price`` is what the buyer pays: the lower of the list price and the member price.
    """

    sku_id: int
    sku: str
    product_id: int
    category_id: int | None
    list_price: Decimal
    member_price: Decimal | None
    price: Decimal
    valid_from: datetime


MONEY_FIELD: DecimalField[Decimal, Decimal] = DecimalField(max_digits=12, decimal_places=2)

# The current price of a SKU is its latest price change that has taken effect: one rule, in the ORM form
# (``sku_current_price``) and the SQL form (``sku_current_price_sql``) for hand-written queries.


def _current_price_changes(at: datetime, sku_ref: str = "pk") -> QuerySet[PriceChange]:
    return PriceChange.objects.filter(sku=OuterRef(sku_ref), valid_from__lte=at).order_by("-valid_from")


def sku_current_price(*, sku_ref: str = "pk", at: datetime | None = None, column: str = "price") -> Subquery:
    """The current list price (or its ``valid_from``) of the SKU ``OuterRef(sku_ref)`` names, as a subquery."""
    field = MONEY_FIELD if column == "price" else None
    return Subquery(_current_price_changes(at or timezone.now(), sku_ref).values(column)[:1], output_field=field)


def sku_current_price_sql(sku_id: str, at: str, column: str = "price") -> str:
    """``sku_current_price`` as SQL: ``sku_id`` an SQL expression, ``at`` the placeholder of the instant."""
    return (
        f"(SELECT pc.{column} FROM catalog_pricechange pc "
        f"WHERE pc.sku_id = {sku_id} AND pc.valid_from <= {at} ORDER BY pc.valid_from DESC LIMIT 1)"
    )


def skus_with_current_price(*, at: datetime | None = None) -> QuerySet[Sku]:
    """SKUs annotated with ``list_price`` and ``price_valid_from`` at ``at`` (default now); one index probe each."""
    at = at or timezone.now()
    return Sku.objects.annotate(
        list_price=sku_current_price(at=at), price_valid_from=sku_current_price(at=at, column="valid_from")
    )


def member_price_for(*, list_price: Decimal, tier_price: Decimal | None, discount_percent: Decimal | None):
    """The tier's price for a SKU: its explicit member price, else the list price less the tier discount."""
    if tier_price is not None:
        return tier_price
    if discount_percent:
        return quantize_money(list_price * (HUNDRED - discount_percent) / HUNDRED)
    return None


_PRICES_SQL = (
    "SELECT s.id, s.code, s.product_id, p.category_id, "
    + sku_current_price_sql("s.id", "%(at)s")
    + ", "
    + sku_current_price_sql("s.id", "%(at)s", "valid_from")
    + """,
       tp.price, t.discount_percent, {tier} AS tier_id, {member_found} AS member_found
  FROM catalog_sku s
  JOIN catalog_product p ON p.id = s.product_id
  LEFT JOIN catalog_tierprice tp ON tp.sku_id = s.id AND tp.tier_id = {tier}
  LEFT JOIN members_tier t ON t.id = {tier}
 WHERE s.is_active AND s.code IN ({codes})
"""
)
# The tier of an active member by card code, resolved inside the price query (one round trip). Anything
# else (merged, erased, unknown) is left to the members app's member_get.
_ACTIVE_MEMBER_TIER = "(SELECT m.tier_id FROM members_member m WHERE m.code = %(member)s AND m.status = 'active')"
_ACTIVE_MEMBER_FOUND = "EXISTS (SELECT 1 FROM members_member m WHERE m.code = %(member)s AND m.status = 'active')"


def _decimal(value) -> Decimal | None:
    return None if value is None else quantize_money(value)


def _price_rows(codes: list[str], at: datetime, *, tier_id: int | None, member_code: str | None) -> list[tuple]:
    # Hand-written: this is the hottest read of every channel; the ORM's compile step cost more than the query.
    params = {"at": at, "tier": tier_id, "member": member_code, **{f"c{i}": c for i, c in enumerate(codes)}}
    sql = _PRICES_SQL.format(
        codes=", ".join(f"%(c{i})s" for i in range(len(codes))),
        tier=_ACTIVE_MEMBER_TIER if member_code is not None else "%(tier)s",
        member_found=_ACTIVE_MEMBER_FOUND if member_code is not None else "1 = 1",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sku_prices_sql(codes: Sequence[str], *, tier_sql: str) -> str:
    """The price query of ``sku_prices`` for a caller that runs it inside a query of its own (e.g. as a
    LATERAL join): ``tier_sql`` is an SQL expression for the member's tier (NULL: list prices), the
    parameters are ``at`` and ``c0``, ``c1``... for the codes. Give its rows to ``sku_prices_from_rows``."""
    return _PRICES_SQL.format(
        codes=", ".join(f"%(c{i})s" for i in range(len(codes))), tier=tier_sql, member_found="true"
    )


def sku_prices_from_rows(codes: Sequence[str], rows: list[tuple], *, with_member: bool) -> dict[str, SkuPrice]:
    """``sku_prices``'s result from the rows of ``sku_prices_sql`` (raises ``UnknownSku`` the same way)."""
    return _prices_from_rows(list(codes), rows, with_member=with_member)


def _prices_from_rows(codes: list[str], rows: list[tuple], *, with_member: bool) -> dict[str, SkuPrice]:
    result: dict[str, SkuPrice] = {}
    for sku_id, code, product_id, category_id, list_price, valid_from, tier_price, discount, tier, _found in rows:
        if list_price is None:
            continue  # no price has taken effect yet: not for sale
        list_price = _decimal(list_price)
        member_price = None
        if with_member and tier is not None:
            member_price = member_price_for(
                list_price=list_price, tier_price=_decimal(tier_price), discount_percent=_decimal(discount)
            )
        price = min(list_price, member_price) if member_price is not None else list_price
        result[code] = SkuPrice(
            sku_id=sku_id,
            sku=code,
            product_id=product_id,
            category_id=category_id,
            list_price=list_price,
            member_price=member_price,
            price=price,
            valid_from=valid_from,
        )
    missing = [code for code in codes if code not in result]
    if missing:
        raise UnknownSku(missing)
    return result


def sku_prices(*, skus: Sequence[str], tier_id: int | None = None, at: datetime | None = None) -> dict[str, SkuPrice]:
    """Prices of ``skus`` at ``at`` (default now) for a member of ``tier_id``, in one query.

    Raises ``UnknownSku`` naming every code that is unknown, inactive or not yet priced (none can be sold).
    """
    codes = list(dict.fromkeys(skus))
    if not codes:
        return {}
    rows = _price_rows(codes, at or timezone.now(), tier_id=tier_id, member_code=None)
    return _prices_from_rows(codes, rows, with_member=tier_id is not None)


def sku_prices_for_member(
    *, skus: Sequence[str], member_code: str | None, at: datetime | None = None
) -> dict[str, SkuPrice]:
    """``sku_prices`` for the member with card ``member_code`` (or nobody): one query for an active member.

    A merged member is priced at its survivor's tier; an unknown member raises ``member_not_found``.
    """
    if member_code is None:
        return sku_prices(skus=skus, at=at)
    codes = list(dict.fromkeys(skus))
    at = at or timezone.now()
    rows = _price_rows(codes, at, tier_id=None, member_code=member_code)
    if not rows or not rows[0][-1]:
        # Not a plain active member (merged, erased, unknown) or no SKU found: the members app decides.
        return sku_prices(skus=codes, tier_id=member_tier_id(code=member_code), at=at)
    return _prices_from_rows(codes, rows, with_member=True)


def member_tier_id(*, code: str) -> int | None:
    """The tier of the member with card ``code`` (a merged member counts as its survivor).

    Raises the members app's ``member_not_found`` error for an unknown member.
    """
    from apps.members.selectors import member_get

    return member_get(code=code).tier_id


@dataclass(frozen=True)
class StoreAvailability:
    store: Store
    distance_km: float
    quantity: int


def sku_get(*, code: str) -> Sku:
    """An active SKU by code; ``UnknownSku`` otherwise."""
    sku = Sku.objects.filter(code=code, is_active=True).first()
    if sku is None:
        raise UnknownSku([code])
    return sku


def sku_availability(*, code: str, lat: float, lng: float, limit: int = 5) -> list[StoreAvailability]:
    """Stores (kind "store", active, located) with SKU ``code`` available, nearest first from (lat, lng).

    One query when some store holds it; ``UnknownSku`` for an unknown or inactive code.
    """
    lat, lng = validate_location(lat, lng)
    rows = list(
        Stock.objects.filter(
            sku__code=code,
            sku__is_active=True,
            on_hand__gt=F("reserved"),
            store__is_active=True,
            store__kind=Store.Kind.STORE,
            store__lat__isnull=False,
        )
        .select_related("store")
        .annotate(distance=distance_km(lat=lat, lng=lng, prefix="store__"))
        .order_by("distance", "store__code")[:limit]
    )
    if not rows:
        sku_get(code=code)  # held nowhere, or no such SKU
    return [StoreAvailability(store=row.store, distance_km=row.distance, quantity=row.available) for row in rows]


def _normalised_lines(lines: Sequence[tuple[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for sku_id, quantity in lines:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    return merged


def stores_holding_all(
    *,
    lines: Sequence[tuple[int, int]],
    lat: float,
    lng: float,
    limit: int = 5,
    kinds: tuple[str, ...] = (Store.Kind.STORE,),
) -> list[tuple[Store, float]]:
    """Active located stores whose available stock covers every (sku_id, quantity) line, nearest first."""
    lat, lng = validate_location(lat, lng)
    wanted = _normalised_lines(lines)
    if not wanted:
        return []
    covers = Q()
    for sku_id, quantity in wanted.items():
        covers |= Q(sku_id=sku_id, on_hand__gte=F("reserved") + quantity)
    holding = (
        Stock.objects.filter(covers)
        .values("store_id")
        .annotate(lines=Count("sku_id"))
        .filter(lines=len(wanted))
        .values("store_id")
    )
    stores = (
        Store.objects.filter(pk__in=holding, is_active=True, kind__in=kinds, lat__isnull=False)
        .annotate(distance_km=distance_km(lat=lat, lng=lng))
        .order_by("distance_km", "code")[:limit]
    )
    return [(store, store.distance_km) for store in stores]


def price_deviations(
    *, at: datetime | None = None, queryset: QuerySet[ChannelListing] | None = None
) -> QuerySet[ChannelListing]:
    """Channel listings whose listed price differs from the unified list price at ``at`` (default now)."""
    return (
        (queryset if queryset is not None else ChannelListing.objects.all())
        .annotate(unified_price=sku_current_price(sku_ref="sku_id", at=at))
        .filter(~Q(listed_price=F("unified_price")) | Q(unified_price__isnull=True))
        .select_related("channel", "sku")
    )


@dataclass(frozen=True)
class StockHere:
    """A SKU's available quantity in one store and in the nearest other stores that hold it."""

    sku: Sku
    here: int
    nearby: list[StoreAvailability]


def sku_code_for(*, entry: str) -> str:
    """The SKU code a clerk typed or scanned: a SKU code or a product barcode; ``UnknownSku`` otherwise."""
    text = (entry or "").strip()
    code = Sku.objects.filter(Q(code=text) | Q(barcode=text), is_active=True).values_list("code", flat=True).first()
    if code is None:
        raise UnknownSku([text])
    return code


def sku_stock_here_and_nearby(*, code: str, store: Store, limit: int = 5) -> StockHere:
    """Available stock of SKU ``code`` (or its barcode) in ``store`` and in the nearest other stores holding it."""
    text = (code or "").strip()
    sku = Sku.objects.filter(Q(code=text) | Q(barcode=text), is_active=True).select_related("product").first()
    if sku is None:
        raise UnknownSku([text])
    row = Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").first()
    here = max(row[0] - row[1], 0) if row else 0
    nearby: list[StoreAvailability] = []
    if store.lat is not None and store.lng is not None:
        nearby = [
            a
            for a in sku_availability(code=sku.code, lat=float(store.lat), lng=float(store.lng), limit=limit + 1)
            if a.store.pk != store.pk
        ][:limit]
    return StockHere(sku=sku, here=here, nearby=nearby)


def stock_shortfall(
    *, store_id: int, lines: Sequence[tuple[int, int]], reserved_only: bool = False
) -> tuple[list[int], str]:
    """The SKU ids of ``lines`` (sku id, quantity) the store cannot supply, and a sentence naming each with what
    is there: the same answer the stock services refuse with (``TEA: available 1, wanted 2``)."""
    rows = {
        r["sku_id"]: r
        for r in Stock.objects.filter(store_id=store_id, sku_id__in=[s for s, _q in lines]).values(
            "sku_id", "on_hand", "reserved"
        )
    }
    haves = {}
    for sku_id, quantity in lines:
        row = rows.get(sku_id, {"on_hand": 0, "reserved": 0})
        have = row["reserved"] if reserved_only else row["on_hand"] - row["reserved"]
        if have < quantity:
            haves[sku_id] = (have, quantity)
    if not haves:
        return [], ""  # one query when all is there (the sale quote asks on every check)
    codes = dict(Sku.objects.filter(pk__in=list(haves)).values_list("pk", "code"))
    kind = "reserved" if reserved_only else "available"
    parts = [f"{codes.get(sku_id, sku_id)}: {kind} {have}, wanted {wanted}" for sku_id, (have, wanted) in haves.items()]
    return list(haves), "; ".join(parts)
