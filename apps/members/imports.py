"""Imports: ``tiers`` and ``members`` (see ../shared/API.md). All or nothing, set-based, re-import is a no-op.

Members are matched by phone. ``marketing_consent`` grants or refuses both outreach channels, but only for
members with no recorded decision: an old file never overrides what a member told us since.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.core.bulk import bulk_upsert, load_staging
from apps.core.imports import Importer, ImportFailed, ImportResult, Row, RowError, RowInvalid, register
from apps.stores.imports import parse_bool, parse_code
from apps.stores.models import Store

from .codes import member_code_new
from .errors import InvalidPhone
from .models import Consent, Identity, Member, Tier
from .phones import phone_normalize


def _decimal(text: str, column: str, *, low: Decimal = Decimal(0), high: Decimal | None = None) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowInvalid(f"{text!r} is not a number", column) from None
    if not value.is_finite() or value < low or (high is not None and value > high):
        raise RowInvalid(f"{text} is out of range", column)
    return value


@register
class TierImporter(Importer):
    resource = "tiers"
    columns = ("code", "name", "rank", "min_annual_spend", "points_per_yuan", "discount_percent")
    key_columns = ("code",)

    def clean_row(self, raw: dict[str, str]) -> tuple:
        if not raw["name"]:
            raise RowInvalid("is required", "name")
        try:
            rank = int(raw["rank"])
        except ValueError:
            raise RowInvalid(f"{raw['rank']!r} is not a whole number", "rank") from None
        if not 1 <= rank <= 100:
            raise RowInvalid("must be 1..100", "rank")
        return (
            parse_code(raw["code"]),
            raw["name"][:64],
            rank,
            _decimal(raw["min_annual_spend"], "min_annual_spend").quantize(Decimal("0.01")),
            _decimal(raw["points_per_yuan"], "points_per_yuan", high=Decimal(1000)).quantize(Decimal("0.01")),
            _decimal(raw["discount_percent"], "discount_percent", high=Decimal(100)).quantize(Decimal("0.01")),
        )

    def validate(self, rows: list[Row]) -> list[RowError]:
        errors, ranks = [], {}
        existing = {rank: code for code, rank in Tier.objects.values_list("code", "rank")}
        for row in rows:
            code, rank = row.values[0], row.values[2]
            if rank in ranks:
                errors.append(RowError(row.line, f"rank {rank} is also on line {ranks[rank]}", "rank"))
            ranks[rank] = row.line
            owner = existing.get(rank)
            if owner is not None and owner != code and owner not in {r.values[0] for r in rows}:
                errors.append(RowError(row.line, f"rank {rank} belongs to tier {owner}", "rank"))
        return errors

    def write(self, rows: list[Row]) -> ImportResult:
        # Ranks are unique: tiers whose rank changes step aside first, so two tiers can swap ranks.
        current = dict(Tier.objects.values_list("code", "rank"))
        moving = [r.values[0] for r in rows if current.get(r.values[0], r.values[2]) != r.values[2]]
        Tier.objects.filter(code__in=moving).update(rank=F("rank") + 1000)
        result = bulk_upsert(
            Tier,
            key=["code"],
            fields=["name", "rank", "min_annual_spend", "points_per_yuan", "discount_percent"],
            rows=(r.values for r in rows),
            insert_values={"benefits": ""},
        )
        return ImportResult.from_upsert(self.resource, len(rows), result)


def _date(text: str, column: str) -> date | None:
    if not text:
        return None
    value = parse_date(text[:10]) if len(text) >= 10 else None
    if value is None:
        raise RowInvalid(f"{text!r} is not a date (YYYY-MM-DD)", column)
    return value


def _datetime(text: str, column: str) -> datetime | None:
    if not text:
        return None
    try:
        value = parse_datetime(text) or (
            datetime.combine(parse_date(text), datetime.min.time()) if parse_date(text) else None
        )
    except ValueError:
        value = None
    if value is None:
        raise RowInvalid(f"{text!r} is not a date and time (ISO 8601)", column)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@register
class MemberImporter(Importer):
    resource = "members"
    columns = ("phone", "name", "birthday", "joined_at", "join_store", "wechat_openid", "wechat_unionid")
    optional_columns = ("marketing_consent",)

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.now = timezone.now()
        self.today = timezone.localdate()

    def clean_row(self, raw: dict[str, str]) -> tuple:
        try:
            phone = phone_normalize(raw["phone"])
        except InvalidPhone as exc:
            raise RowInvalid(exc.message, "phone") from None
        birthday = _date(raw["birthday"], "birthday")
        if birthday is not None and (birthday > self.today or birthday.year < 1900):
            raise RowInvalid(f"{birthday} is not a plausible birthday", "birthday")
        joined_at = _datetime(raw["joined_at"], "joined_at")  # blank: now for new members, kept for others
        if joined_at is not None and joined_at > self.now:
            raise RowInvalid("joined_at is in the future", "joined_at")
        for column in ("wechat_openid", "wechat_unionid"):
            if len(raw[column]) > 128:
                raise RowInvalid("is longer than 128 characters", column)
        consent = raw.get("marketing_consent", "")
        return (
            phone,
            raw["name"][:100],
            birthday,
            joined_at,
            raw["join_store"],
            raw["wechat_openid"],
            raw["wechat_unionid"],
            None if consent == "" else parse_bool(consent, "marketing_consent"),
        )

    def validate(self, rows: list[Row]) -> list[RowError]:
        errors: list[RowError] = []
        seen: dict[str, int] = {}
        for column, index in (("phone", 0), ("wechat_openid", 5), ("wechat_unionid", 6)):
            seen.clear()
            for row in rows:
                value = row.values[index]
                if not value:
                    continue
                if value in seen:
                    errors.append(RowError(row.line, f"{value} is also on line {seen[value]}", column))
                seen[value] = row.line
        stores = set(Store.objects.values_list("code", flat=True))
        errors += [
            RowError(row.line, f"no store {row.values[4]!r}", "join_store")
            for row in rows
            if row.values[4] and row.values[4] not in stores
        ]
        return errors

    def write(self, rows: list[Row]) -> ImportResult:
        staging = "stage_member_import"
        load_staging(
            staging,
            [
                ("line", "integer"),
                ("phone", "varchar(20)"),
                ("name", "varchar(100)"),
                ("birthday", "date"),
                ("joined_at", "timestamp with time zone"),
                ("store_code", "varchar(32)"),
                ("openid", "varchar(128)"),
                ("unionid", "varchar(128)"),
                ("consent", "boolean"),
                ("code", "varchar(20)"),
            ],
            ((r.line, *r.values, code) for r, code in zip(rows, _unique_codes(len(rows)), strict=True)),
        )
        m, i, c, s = Member._meta.db_table, Identity._meta.db_table, Consent._meta.db_table, Store._meta.db_table
        with connection.cursor() as cursor:
            # An identity may not move between members: refuse the file, naming the lines.
            cursor.execute(
                f"""
                SELECT st.line, CASE WHEN ident.kind = 'wechat_openid' THEN 'wechat_openid' ELSE 'wechat_unionid' END
                FROM {staging} st
                JOIN {i} ident ON ident.channel_id IS NULL AND (
                    (ident.kind = 'wechat_openid' AND ident.value = st.openid) OR
                    (ident.kind = 'wechat_unionid' AND ident.value = st.unionid))
                JOIN {m} owner ON owner.id = ident.member_id
                WHERE owner.phone IS NULL OR owner.phone <> st.phone
                ORDER BY st.line
                """
            )
            conflicts = [RowError(line, "belongs to another member", column) for line, column in cursor.fetchall()]
            if conflicts:
                raise ImportFailed(conflicts)
            cursor.execute(
                f"""
                UPDATE {m} SET name = st.name, birthday = st.birthday,
                       joined_at = COALESCE(st.joined_at, {m}.joined_at),
                       join_store_id = (SELECT id FROM {s} WHERE code = st.store_code)
                FROM {staging} st
                WHERE {m}.phone = st.phone AND (
                    {m}.name <> st.name OR COALESCE({m}.birthday, '1800-01-01') <> COALESCE(st.birthday, '1800-01-01')
                    OR {m}.joined_at <> COALESCE(st.joined_at, {m}.joined_at)
                    OR COALESCE({m}.join_store_id, 0) <> COALESCE((SELECT id FROM {s} WHERE code = st.store_code), 0))
                """
            )
            updated = cursor.rowcount
            cursor.execute(
                f"SELECT st.line FROM {staging} st WHERE NOT EXISTS (SELECT 1 FROM {m} WHERE phone = st.phone)"
            )
            new_lines = [line for (line,) in cursor.fetchall()]
        created = self._insert_new(staging, new_lines)
        with connection.cursor() as cursor:
            for kind, column in (("wechat_openid", "openid"), ("wechat_unionid", "unionid")):
                cursor.execute(
                    f"""
                    INSERT INTO {i} (member_id, kind, channel_id, value, created_at)
                    SELECT mm.id, %s, NULL, st.{column}, %s FROM {staging} st JOIN {m} mm ON mm.phone = st.phone
                    WHERE st.{column} <> ''
                    ON CONFLICT DO NOTHING
                    """,
                    [kind, self.now],
                )
            for outreach in ("wechat", "sms"):
                cursor.execute(
                    f"""
                    INSERT INTO {c} (member_id, channel, granted, changed_at, source)
                    SELECT mm.id, %s, st.consent, %s, 'import' FROM {staging} st JOIN {m} mm ON mm.phone = st.phone
                    WHERE st.consent IS NOT NULL
                    ON CONFLICT DO NOTHING
                    """,
                    [outreach, self.now],
                )
            cursor.execute(f"DROP TABLE {staging}")
        return ImportResult(self.resource, len(rows), created, updated, len(rows) - created - updated)

    def _insert_new(self, staging: str, lines: list[int]) -> int:
        """Insert the new members with the card codes drawn for them; a code already taken is drawn again.

        An imported member starts in the base tier without a tier-history row: a first tier is not a change.
        """
        if not lines:
            return 0
        m, s = Member._meta.db_table, Store._meta.db_table
        base = Tier.objects.filter(min_annual_spend=0).order_by("rank").values_list("pk", flat=True).first()
        created = 0
        with connection.cursor() as cursor:
            for _attempt in range(5):
                cursor.execute(
                    f"""
                    INSERT INTO {m} (code, phone, name, birthday, joined_at, join_store_id, tier_id, tier_since,
                                     status, points_balance, created_at)
                    SELECT st.code, st.phone, st.name, st.birthday, COALESCE(st.joined_at, %s), store.id, %s,
                           CASE WHEN %s IS NULL THEN NULL ELSE COALESCE(st.joined_at, %s) END, 'active', 0, %s
                    FROM {staging} st LEFT JOIN {s} store ON store.code = st.store_code
                    WHERE NOT EXISTS (SELECT 1 FROM {m} WHERE phone = st.phone)
                    ON CONFLICT DO NOTHING
                    """,
                    [self.now, base, base, self.now, self.now],
                )
                created += cursor.rowcount
                cursor.execute(
                    f"SELECT st.line FROM {staging} st WHERE NOT EXISTS (SELECT 1 FROM {m} WHERE phone = st.phone)"
                )
                pending = [line for (line,) in cursor.fetchall()]
                if not pending:
                    break
                for line, code in zip(pending, _unique_codes(len(pending)), strict=True):
                    cursor.execute(f"UPDATE {staging} SET code = %s WHERE line = %s", [code, line])
        return created


def _unique_codes(count: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(member_code_new())
    return list(codes)
