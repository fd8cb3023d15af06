"""Importers for skus, tier_prices, price_changes and stock (columns as in ../shared/API.md).

Every file is checked whole first (unknown SKU, tier, store or category, bad prices and quantities,
duplicate barcodes, price changes in the past) and written only if no row is bad, set-based.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from apps.core.bulk import bulk_upsert, load_staging
from apps.core.imports import Importer, ImportResult, Row, RowError, RowInvalid, register
from apps.core.money import parse_money
from apps.members.models import Tier
from apps.stores.imports import parse_bool
from apps.stores.models import Store

from .models import Category, PriceChange, Product, Sku, Stock, StockMovement, TierPrice
from .selectors import sku_current_price_sql

_CODE_CHARS = set("-_./")


def parse_sku_code(text: str, column: str = "sku", max_length: int = 64) -> str:
    code = text.strip()
    if not code:
        raise RowInvalid("is required", column)
    if len(code) > max_length or not all(c.isalnum() or c in _CODE_CHARS for c in code):
        raise RowInvalid(f"{code!r} must be at most {max_length} letters, digits, '-', '_', '.' or '/'", column)
    return code


def parse_price(text: str, column: str = "price") -> Decimal:
    if not text:
        raise RowInvalid("is required", column)
    try:
        value = parse_money(text)
    except ValueError as exc:
        raise RowInvalid(str(exc), column) from None
    if value >= Decimal("10000000000"):
        raise RowInvalid(f"{text} is too large", column)
    return value


def parse_instant(text: str, column: str) -> datetime:
    """ISO 8601 date or date-time; without an offset it is read in the merchant's time zone."""
    if not text:
        raise RowInvalid("is required", column)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise RowInvalid(f"{text!r} is not an ISO 8601 date or date-time", column) from None
    if len(text) == 10:  # a date: the change starts at midnight
        value = datetime.combine(value.date(), time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def ids_by_code(model: type[Model], codes: Iterable[str], field: str = "code") -> dict[str, int]:
    """Map codes to primary keys in one query (the whole table when the file names many codes)."""
    codes = set(codes)
    qs = model.objects.all()
    if len(codes) <= 5000:
        qs = qs.filter(**{f"{field}__in": codes})
    return {code: pk for code, pk in qs.values_list(field, "pk").iterator(chunk_size=20000) if code in codes}


def _unknown(rows: list[Row], index: int, known: dict[str, int], column: str, what: str) -> list[RowError]:
    return [
        RowError(row.line, f"unknown {what} {row.values[index]!r}", column)
        for row in rows
        if row.values[index] not in known
    ]


def _distinct_sql(a: str, b: str) -> str:
    return f"{a} IS DISTINCT FROM {b}"


@register
class SkuImporter(Importer):
    """``sku, product, name, category, barcode, price, active`` (+ optional ``brand, size, colour``).

    ``product`` is the style code: a new one is created with the row's name and category. ``price`` is the
    list price from now on: for a new SKU its first price; for an existing SKU whose current price differs,
    a price change effective at once (history is kept; scheduled future changes stay as they are). Leave it
    empty on an existing SKU to keep its price; schedule future prices with the ``price_changes`` import.
    """

    resource = "skus"
    columns = ("sku", "product", "name", "category", "barcode", "price", "active")
    optional_columns = ("brand", "size", "colour")
    key_columns = ("sku",)

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.has_attributes = False

    def clean_row(self, raw: dict[str, str]) -> tuple:
        if not raw["name"]:
            raise RowInvalid("is required", "name")
        barcode = raw["barcode"] or None
        if barcode is not None and (len(barcode) > 32 or not barcode.isalnum()):
            raise RowInvalid(f"{barcode!r} must be at most 32 letters or digits", "barcode")
        attributes = {}
        if "size" in raw or "colour" in raw:
            self.has_attributes = True
            attributes = {k: raw[k] for k in ("size", "colour") if raw.get(k)}
        return (
            parse_sku_code(raw["sku"]),
            parse_sku_code(raw["product"], "product"),
            raw["name"][:200],
            raw["category"] or None,
            barcode,
            parse_price(raw["price"]) if raw["price"] else None,
            parse_bool(raw["active"], "active"),
            raw.get("brand", "")[:100],
            attributes,
        )

    def validate(self, rows: list[Row]) -> list[RowError]:
        errors: list[RowError] = []
        categories = ids_by_code(Category, {r.values[3] for r in rows if r.values[3]})
        errors += [e for e in _unknown([r for r in rows if r.values[3]], 3, categories, "category", "category")]
        existing = ids_by_code(Sku, {r.values[0] for r in rows})
        errors += [
            RowError(r.line, "a new SKU needs a price", "price")
            for r in rows
            if r.values[5] is None and r.values[0] not in existing
        ]
        first_category: dict[str, tuple[str | None, int]] = {}
        for r in rows:
            product, category = r.values[1], r.values[3]
            seen = first_category.setdefault(product, (category, r.line))
            if seen[0] != category:
                errors.append(
                    RowError(r.line, f"product {product} is in category {seen[0]!r} on line {seen[1]}", "category")
                )
        barcode_lines: dict[str, int] = {}
        for r in rows:
            barcode = r.values[4]
            if barcode is None:
                continue
            if barcode in barcode_lines:
                errors.append(
                    RowError(r.line, f"barcode {barcode} is also on line {barcode_lines[barcode]}", "barcode")
                )
            else:
                barcode_lines[barcode] = r.line
        taken = dict(Sku.objects.filter(barcode__in=list(barcode_lines)).values_list("barcode", "code"))
        errors += [
            RowError(r.line, f"barcode {r.values[4]} already belongs to SKU {taken[r.values[4]]}", "barcode")
            for r in rows
            if r.values[4] in taken and taken[r.values[4]] != r.values[0]
        ]
        self.category_ids = categories
        return errors

    def write(self, rows: list[Row]) -> ImportResult:
        now = timezone.now()
        products: dict[str, tuple] = {}
        for r in rows:
            _sku, product, name, category, _barcode, _price, _active, brand, _attrs = r.values
            products.setdefault(product, (product, name, brand, self.category_ids.get(category)))
        self._upsert_products(list(products.values()), now)
        product_ids = ids_by_code(Product, products)
        fields = ["product_id", "name", "barcode", "is_active"] + (["attributes"] if self.has_attributes else [])
        sku_rows = (
            (code, product_ids[product], name, barcode, active)
            + ((json.dumps(attrs, ensure_ascii=False),) if self.has_attributes else ())
            for code, product, name, _c, barcode, _p, active, _b, attrs in (r.values for r in rows)
        )
        insert_values = {"created_at": now} if self.has_attributes else {"created_at": now, "attributes": "{}"}
        result = bulk_upsert(Sku, key=["code"], fields=fields, rows=sku_rows, insert_values=insert_values)
        sku_ids = ids_by_code(Sku, (r.values[0] for r in rows))
        changed = self._set_prices([(sku_ids[r.values[0]], r.values[5]) for r in rows if r.values[5] is not None], now)
        outcome = ImportResult.from_upsert(self.resource, len(rows), result)
        outcome.notes.append(f"{changed} price(s) set, effective now")
        return outcome

    def _upsert_products(self, products: list[tuple], now: datetime) -> None:
        load_staging(
            "stage_catalog_product",
            [("code", "varchar(64)"), ("name", "varchar(200)"), ("brand", "varchar(100)"), ("category_id", "bigint")],
            products,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE catalog_product AS t SET category_id = s.category_id, "
                "brand = CASE WHEN s.brand = '' THEN t.brand ELSE s.brand END FROM stage_catalog_product AS s "
                f"WHERE t.code = s.code AND ({_distinct_sql('t.category_id', 's.category_id')} "
                "OR (s.brand <> '' AND t.brand <> s.brand))"
            )
            cursor.execute(
                "INSERT INTO catalog_product (code, name, brand, category_id, description, image_urls, created_at) "
                "SELECT s.code, s.name, s.brand, s.category_id, '', '[]', %s FROM stage_catalog_product AS s "
                "WHERE NOT EXISTS (SELECT 1 FROM catalog_product AS t WHERE t.code = s.code)",
                [now],
            )
            cursor.execute("DROP TABLE stage_catalog_product")

    def _set_prices(self, prices: list[tuple[int, Decimal]], now: datetime) -> int:
        load_staging("stage_catalog_price", [("sku_id", "bigint"), ("price", "numeric(12, 2)")], prices)
        current = sku_current_price_sql("s.sku_id", "%s")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO catalog_pricechange (sku_id, price, valid_from, created_at, source, note) "
                f"SELECT s.sku_id, s.price, %s, %s, %s, '' FROM stage_catalog_price AS s "
                f"WHERE {_distinct_sql('s.price', current)}",
                [now, now, PriceChange.Source.IMPORT, now],
            )
            changed = cursor.rowcount
            cursor.execute("DROP TABLE stage_catalog_price")
        return changed


@register
class TierPriceImporter(Importer):
    """``sku, tier, price``: what members of a tier pay (the lower of it and the list price applies)."""

    resource = "tier_prices"
    columns = ("sku", "tier", "price")
    key_columns = ("sku", "tier")

    def clean_row(self, raw: dict[str, str]) -> tuple:
        return parse_sku_code(raw["sku"]), raw["tier"] or "", parse_price(raw["price"])

    def validate(self, rows: list[Row]) -> list[RowError]:
        self.skus = ids_by_code(Sku, (r.values[0] for r in rows))
        self.tiers = ids_by_code(Tier, (r.values[1] for r in rows))
        return _unknown(rows, 0, self.skus, "sku", "SKU") + _unknown(rows, 1, self.tiers, "tier", "tier")

    def write(self, rows: list[Row]) -> ImportResult:
        result = bulk_upsert(
            TierPrice,
            key=["sku_id", "tier_id"],
            fields=["price"],
            rows=((self.skus[s], self.tiers[t], p) for s, t, p in (r.values for r in rows)),
            insert_values={"updated_at": timezone.now()},
        )
        return ImportResult.from_upsert(self.resource, len(rows), result)


@register
class PriceChangeImporter(Importer):
    """``sku, price, valid_from``: scheduled list price changes (now or later; history is never rewritten).

    A row equal to an entry already in the price list is left alone, so the same file can be imported again.
    """

    resource = "price_changes"
    columns = ("sku", "price", "valid_from")

    def clean_row(self, raw: dict[str, str]) -> tuple:
        return parse_sku_code(raw["sku"]), parse_price(raw["price"]), parse_instant(raw["valid_from"], "valid_from")

    def validate(self, rows: list[Row]) -> list[RowError]:
        self.skus = ids_by_code(Sku, (r.values[0] for r in rows))
        errors = _unknown(rows, 0, self.skus, "sku", "SKU")
        now = timezone.now()
        existing = {
            (sku_id, valid_from): price
            for sku_id, valid_from, price in PriceChange.objects.filter(sku_id__in=set(self.skus.values())).values_list(
                "sku_id", "valid_from", "price"
            )
        }
        seen: dict[tuple, int] = {}
        self.new_or_changed: list[Row] = []
        for r in rows:
            code, price, valid_from = r.values
            if code not in self.skus:
                continue
            key = (self.skus[code], valid_from)
            if key in seen:
                errors.append(RowError(r.line, f"duplicate of line {seen[key]}"))
                continue
            seen[key] = r.line
            if key in existing and existing[key] == price:
                continue  # already in the price list
            if valid_from <= now:
                message = (
                    f"the price from {valid_from.isoformat()} has taken effect and cannot be rewritten"
                    if key in existing
                    else f"{valid_from.isoformat()} is in the past; price changes start now or later"
                )
                errors.append(RowError(r.line, message, "valid_from"))
                continue
            self.new_or_changed.append(r)
        return errors

    def write(self, rows: list[Row]) -> ImportResult:
        now = timezone.now()
        result = bulk_upsert(
            PriceChange,
            key=["sku_id", "valid_from"],
            fields=["price"],
            rows=((self.skus[c], vf, p) for c, p, vf in (r.values for r in self.new_or_changed)),
            insert_values={"created_at": now, "source": PriceChange.Source.IMPORT, "note": ""},
        )
        unchanged = len(rows) - len(self.new_or_changed)
        return ImportResult(self.resource, len(rows), result.created, result.updated, unchanged)


@register
class StockImporter(Importer):
    """``store, sku, quantity``: the quantity on hand after a count (absolute, not a delta).

    Each row that changes a quantity is recorded as an adjustment movement; the same file again records
    nothing. A quantity below what is reserved in that store is refused.
    """

    resource = "stock"
    columns = ("store", "sku", "quantity")
    key_columns = ("store", "sku")

    def clean_row(self, raw: dict[str, str]) -> tuple:
        text = raw["quantity"]
        if not text.isdigit():
            if not text:
                raise RowInvalid("is required", "quantity")
            raise RowInvalid(f"{text!r} is not a whole number of 0 or more", "quantity")
        if not raw["store"]:
            raise RowInvalid("is required", "store")
        if not raw["sku"]:
            raise RowInvalid("is required", "sku")
        return raw["store"], raw["sku"], int(text)

    def validate(self, rows: list[Row]) -> list[RowError]:
        stores = ids_by_code(Store, {r.values[0] for r in rows})
        skus = ids_by_code(Sku, {r.values[1] for r in rows})
        errors: list[RowError] = []
        resolved: list[tuple[int, int, int]] = []
        for r in rows:
            store, sku, quantity = r.values
            store_id, sku_id = stores.get(store), skus.get(sku)
            if store_id is None:
                errors.append(RowError(r.line, f"unknown store {store!r}", "store"))
            if sku_id is None:
                errors.append(RowError(r.line, f"unknown SKU {sku!r}", "sku"))
            if quantity > 2_000_000_000:
                errors.append(RowError(r.line, f"{quantity} is too large", "quantity"))
            if not errors:
                resolved.append((store_id, sku_id, quantity))
        if errors:
            return errors
        reserved: dict[tuple[int, int], int] = defaultdict(int)
        reserved.update(
            ((s, k), q)
            for s, k, q in Stock.objects.filter(reserved__gt=0).values_list("store_id", "sku_id", "reserved")
        )
        if reserved:
            errors += [
                RowError(r.line, f"{reserved[(s, k)]} are reserved there; the quantity cannot be less", "quantity")
                for r, (s, k, q) in zip(rows, resolved, strict=True)
                if q < reserved.get((s, k), 0)
            ]
        self.resolved = resolved
        return errors

    def write(self, rows: list[Row]) -> ImportResult:
        now = timezone.now()
        reference = f"stock import {timezone.localtime(now):%Y-%m-%d %H:%M:%S}"
        load_staging(
            "stage_catalog_stock",
            [("store_id", "bigint"), ("sku_id", "bigint"), ("quantity", "integer")],
            self.resolved,
        )
        stock, movement = Stock._meta.db_table, StockMovement._meta.db_table
        match = "t.store_id = s.store_id AND t.sku_id = s.sku_id"
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE stage_catalog_stock")
            # Lock the rows about to change, in the order the stock services lock them, so a sale
            # cannot slip between reading the old quantity (for the movement) and writing the new one.
            cursor.execute(
                f"SELECT count(*) FROM (SELECT t.id FROM {stock} AS t JOIN stage_catalog_stock AS s ON {match} "
                "WHERE t.on_hand <> s.quantity ORDER BY t.store_id, t.sku_id FOR NO KEY UPDATE OF t) AS locked"
            )
            cursor.execute(
                f"INSERT INTO {movement} "
                "(store_id, sku_id, kind, on_hand_delta, reserved_delta, reference, created_at) "
                "SELECT s.store_id, s.sku_id, %s, s.quantity - COALESCE(t.on_hand, 0), 0, %s, %s "
                f"FROM stage_catalog_stock AS s LEFT JOIN {stock} AS t ON {match} "
                "WHERE s.quantity <> COALESCE(t.on_hand, 0)",
                [StockMovement.Kind.ADJUSTMENT, reference, now],
            )
            moved = cursor.rowcount
            cursor.execute(
                f"UPDATE {stock} AS t SET on_hand = s.quantity, updated_at = %s FROM stage_catalog_stock AS s "
                f"WHERE {match} AND t.on_hand <> s.quantity",
                [now],
            )
            updated = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {stock} (store_id, sku_id, on_hand, reserved, updated_at) "
                "SELECT s.store_id, s.sku_id, s.quantity, 0, %s FROM stage_catalog_stock AS s "
                f"WHERE s.quantity > 0 AND NOT EXISTS (SELECT 1 FROM {stock} AS t WHERE {match})",
                [now],
            )
            created = cursor.rowcount
            cursor.execute("DROP TABLE stage_catalog_stock")
        result = ImportResult(self.resource, len(rows), created, updated, len(rows) - created - updated)
        result.notes.append(f"{moved} adjustment movement(s) recorded")
        return result
