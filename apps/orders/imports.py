"""Historic orders import (``import_data orders FILE [--award-points]``): one row per line, grouped by
(channel, external_id). Prices as given, no messages; points only with ``--award-points``. Set-based: the
rows are COPYed into a staging table, then orders and lines are inserted with one INSERT ... SELECT each.
Orders already present (same channel and external id) are left alone, so a re-import changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from apps.catalog.models import Sku
from apps.core.bulk import load_staging
from apps.core.imports import Importer, ImportResult, Row, RowError, RowInvalid, register
from apps.members.errors import InvalidPhone
from apps.members.models import Member, MemberSpendDay
from apps.members.phones import phone_normalize
from apps.stores.models import Channel, Store

from .credit import order_credit_sql
from .models import Order, OrderLine

STAGING = "orders_import_staging"
NEW_ORDERS = "orders_import_new"


@register
class OrderImporter(Importer):
    resource = "orders"
    columns = ("external_id", "channel", "store", "member_phone", "placed_at", "sku", "quantity", "unit_price")
    key_columns = ()

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._phones: dict[str, str] = {}
        self._tz = timezone.get_current_timezone()

    def _phone(self, raw: str) -> str:
        if not raw:
            return ""
        if (known := self._phones.get(raw)) is None:
            try:
                known = self._phones[raw] = phone_normalize(raw)
            except InvalidPhone as exc:
                raise RowInvalid(exc.message, "member_phone") from exc
        return known

    def clean_row(self, raw: dict[str, str]) -> tuple:
        try:
            quantity = int(raw["quantity"])
        except ValueError:
            raise RowInvalid("not a whole number", "quantity") from None
        if quantity <= 0:
            raise RowInvalid("must be positive", "quantity")
        try:
            price = Decimal(raw["unit_price"]).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise RowInvalid("not an amount", "unit_price") from None
        if price < 0:
            raise RowInvalid("must not be negative", "unit_price")
        try:
            placed_at = datetime.fromisoformat(raw["placed_at"])
        except ValueError:
            raise RowInvalid("not an ISO 8601 time", "placed_at") from None
        if placed_at.tzinfo is None:
            placed_at = placed_at.replace(tzinfo=self._tz)
        if not raw["external_id"] or not raw["channel"] or not raw["sku"]:
            raise RowInvalid("external_id, channel and sku are required")
        phone = self._phone(raw["member_phone"])
        return (raw["channel"], raw["external_id"], raw["store"], phone, placed_at, raw["sku"], quantity, price)

    def validate(self, rows: list[Row]) -> list[RowError]:
        channels = dict(Channel.objects.values_list("code", "pk"))
        stores = set(Store.objects.values_list("code", flat=True))
        skus = set(Sku.objects.filter(code__in={r.values[5] for r in rows}).values_list("code", flat=True))
        phones = {r.values[3] for r in rows if r.values[3]}
        members = set(Member.objects.filter(phone__in=phones).values_list("phone", flat=True)) if phones else set()
        errors: list[RowError] = []
        heads: dict[tuple[str, str], tuple] = {}
        for row in rows:
            channel, external_id, store, phone, placed_at, sku, _q, _p = row.values
            if channel not in channels:
                errors.append(RowError(row.line, f"unknown channel {channel}", "channel"))
            if store and store not in stores:
                errors.append(RowError(row.line, f"unknown store {store}", "store"))
            if sku not in skus:
                errors.append(RowError(row.line, f"unknown SKU {sku}", "sku"))
            if phone and phone not in members:
                errors.append(RowError(row.line, f"no member with phone {phone}", "member_phone"))
            head = heads.setdefault((channel, external_id), (store, phone, placed_at, row.line))
            if head[:3] != (store, phone, placed_at):
                errors.append(RowError(row.line, f"store, member or time differ from line {head[3]} of this order"))
        return errors

    def write(self, rows: list[Row]) -> ImportResult:
        created = self._write_set_based(rows)
        new_orders = Order.objects.extra(where=[f"orders_order.id IN (SELECT id FROM {NEW_ORDERS})"])
        notes = [f"{created} orders"]
        if self.options.get("award_points") and created:
            notes.append(f"{self._award_points(new_orders)} members given points")
        groups = len({(r.values[0], r.values[1]) for r in rows})
        return ImportResult(self.resource, len(rows), created=created, unchanged=groups - created, notes=notes)

    def _write_set_based(self, rows: list[Row]) -> int:
        """COPY into staging, then one statement inserts orders, lines and spend days."""
        load_staging(
            STAGING,
            [("line", "integer"), ("channel", "text"), ("external_id", "text"), ("store", "text"),
             ("phone", "text"), ("placed_at", "timestamptz"), ("sku", "text"), ("quantity", "integer"),
             ("unit_price", "numeric(12,2)")],
            ((r.line, *r.values) for r in rows),
        )  # fmt: skip
        order_t, line_t, spend_t = Order._meta.db_table, OrderLine._meta.db_table, MemberSpendDay._meta.db_table
        credited_store, credited_guide = order_credit_sql(
            is_online="c.kind <> 'pos'", store_id="st.id", guide_id="NULL::bigint", member="m"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {STAGING}")
            cursor.execute(f"DROP TABLE IF EXISTS {NEW_ORDERS}")
            cursor.execute(f"CREATE TEMPORARY TABLE {NEW_ORDERS} (id bigint PRIMARY KEY) ON COMMIT DROP")
            # One statement: the orders, their lines, the members' spend days and the list of new order ids.
            cursor.execute(
                f"""
                WITH ins AS (
                    INSERT INTO {order_t} (number, channel_id, external_id, fingerprint, store_id, member_id,
                        guide_id, credited_store_id, credited_guide_id, is_online, status, fulfilment, is_fulfilled,
                        delivery_address, placed_at, is_paid, payment_method, subtotal, discount_total, total,
                        refunded_total, points_earned, coupons_applied, is_historic, created_at)
                    SELECT 'H' || to_char(g.placed_at, 'YYMMDD')
                            || upper(substr(md5(g.channel_id || ':' || g.external_id), 1, 16)),
                        g.channel_id, g.external_id, '', st.id, m.id, NULL,
                        {credited_store}, {credited_guide},
                        c.kind <> 'pos', 'completed', 'in_store', true, '', g.placed_at, true, '',
                        g.total, 0, g.total, 0, 0, '[]'::jsonb, true, now()
                    FROM (
                        SELECT c.id AS channel_id, s.external_id, min(s.store) AS store, min(s.phone) AS phone,
                            min(s.placed_at) AS placed_at, sum(s.unit_price * s.quantity) AS total
                        FROM {STAGING} s JOIN {Channel._meta.db_table} c ON c.code = s.channel
                        GROUP BY c.id, s.external_id
                    ) g
                    JOIN {Channel._meta.db_table} c ON c.id = g.channel_id
                    LEFT JOIN {Store._meta.db_table} st ON st.code = g.store
                    LEFT JOIN {Member._meta.db_table} m ON m.phone = g.phone AND g.phone <> ''
                    ON CONFLICT (channel_id, external_id) DO NOTHING
                    RETURNING id, channel_id, external_id, member_id, placed_at, total
                ), lines AS (
                    INSERT INTO {line_t} (order_id, position, sku_id, quantity, unit_price, discount, total,
                        refunded_quantity, refunded_amount)
                    SELECT ins.id, row_number() OVER (PARTITION BY ins.id ORDER BY s.line), k.id, s.quantity,
                        s.unit_price, 0, s.unit_price * s.quantity, 0, 0
                    FROM {STAGING} s
                    JOIN {Channel._meta.db_table} c ON c.code = s.channel
                    JOIN ins ON ins.channel_id = c.id AND ins.external_id = s.external_id
                    JOIN {Sku._meta.db_table} k ON k.code = s.sku
                    RETURNING 1
                ), spend AS (
                    -- Spend counts towards tiers and KPIs; the nightly tier evaluation judges it.
                    INSERT INTO {spend_t} (member_id, day, amount)
                    SELECT member_id, (placed_at AT TIME ZONE %s)::date, sum(total)
                    FROM ins WHERE member_id IS NOT NULL
                    GROUP BY 1, 2
                    ON CONFLICT (member_id, day) DO UPDATE SET amount = {spend_t}.amount + EXCLUDED.amount
                    RETURNING 1
                ), listed AS (
                    INSERT INTO {NEW_ORDERS} (id) SELECT id FROM ins RETURNING 1
                )
                SELECT (SELECT count(*) FROM listed), (SELECT count(*) FROM lines), (SELECT count(*) FROM spend)
                """,
                [timezone.get_current_timezone_name()],
            )
            return cursor.fetchone()[0]

    def _award_points(self, new_orders: QuerySet[Order]) -> int:
        """Book points per imported member order at the member's current tier rate (once per order key)."""
        from apps.loyalty.services import points_earn

        orders = new_orders.filter(is_historic=True, member__isnull=False, member__tier__isnull=False).values_list(
            "pk", "number", "member_id", "total", "member__tier__points_per_yuan", "placed_at"
        )
        members = set()
        for pk, number, member_id, total, rate, placed_at in orders.iterator(chunk_size=5000):
            points = int((total * rate).to_integral_value(rounding=ROUND_FLOOR))
            if points > 0:
                points_earn(member_id=member_id, points=points, reference=f"order:{number}",
                            idempotency_key=f"order:{pk}:earn", at=placed_at)  # fmt: skip
                Order.objects.filter(pk=pk).update(points_earned=points)
                members.add(member_id)
        return len(members)
