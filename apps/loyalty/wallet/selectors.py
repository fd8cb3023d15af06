"""Wallet reads: a member's balance and entries, the ledger check, and the liability report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.money import quantize_money
from apps.members.models import Member
from apps.stores.models import Store

from .models import Wallet, WalletBonusLot, WalletEntry, WalletMonth

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balance:
    principal: Decimal
    bonus: Decimal

    @property
    def balance(self) -> Decimal:
        return self.principal + self.bonus


def wallet_balance(*, member_id: int) -> Balance:
    """The member's card balance (zero when never recharged)."""
    row = Wallet.objects.filter(member_id=member_id).values_list("principal", "bonus").first()
    return Balance(*row) if row else Balance(ZERO, ZERO)


def wallet_recent_entries(*, member_id: int, limit: int = 50) -> QuerySet[WalletEntry]:
    return WalletEntry.objects.filter(member_id=member_id).order_by("-created_at", "-id")[:limit]


def wallet_ledger_mismatches(*, limit: int = 100) -> list[tuple[int, str, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """Wallets whose principal or bonus differs from their ledger's sums, or whose bonus differs from their
    lots, in one query: ``(member id, code, principal, ledger principal, bonus, ledger bonus, lots)``."""
    wallets, entries, lots = Wallet._meta.db_table, WalletEntry._meta.db_table, WalletBonusLot._meta.db_table
    members = Member._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(w.member_id, e.member_id), m.code, COALESCE(w.principal, 0), COALESCE(e.principal, 0), "
            f"COALESCE(w.bonus, 0), COALESCE(e.bonus, 0), COALESCE(l.remaining, 0) FROM {wallets} w "
            f"FULL OUTER JOIN (SELECT member_id, SUM(principal) AS principal, SUM(bonus) AS bonus FROM {entries} "
            f"GROUP BY member_id) e ON e.member_id = w.member_id "
            f"LEFT JOIN (SELECT member_id, SUM(remaining) AS remaining FROM {lots} GROUP BY member_id) l "
            f"ON l.member_id = COALESCE(w.member_id, e.member_id) "
            f"LEFT JOIN {members} m ON m.id = COALESCE(w.member_id, e.member_id) "
            f"WHERE COALESCE(w.principal, 0) <> COALESCE(e.principal, 0) "
            f"OR COALESCE(w.bonus, 0) <> COALESCE(e.bonus, 0) "
            f"OR COALESCE(w.bonus, 0) <> COALESCE(l.remaining, 0) ORDER BY 1 LIMIT %s",
            [limit],
        )
        return cursor.fetchall()


# -- the liability report --------------------------------------------------------------------------------

#: What each month's row sums, from the ledger's kinds (amounts as the merchant reads them: positive).
_MOVEMENTS = {
    "recharged": "CASE WHEN kind = 'recharge' THEN principal ELSE 0 END",
    "bonus_granted": "CASE WHEN kind = 'bonus' THEN bonus ELSE 0 END",
    "spent_principal": "CASE WHEN kind IN ('payment', 'refund') THEN -principal ELSE 0 END",
    "spent_bonus": "CASE WHEN kind IN ('payment', 'refund') THEN -bonus ELSE 0 END",
    "withdrawn": "CASE WHEN kind = 'withdrawal' THEN -principal ELSE 0 END",
    "breakage": "CASE WHEN kind IN ('expiry', 'withdrawal') THEN -bonus ELSE 0 END",
    "net_principal": "principal",
    "net_bonus": "bonus",
}
COLUMNS = list(_MOVEMENTS)


def _month_sql(column: str) -> tuple[str, list]:
    return f"date_trunc('month', {column} AT TIME ZONE %s)::date", [settings.TIME_ZONE]


def _month_start(at: datetime) -> date:
    return timezone.localtime(at).date().replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _summarised_until() -> date | None:
    """The first month not in the summary table (None: nothing summarised)."""
    last = WalletMonth.objects.order_by("-month").values_list("month", flat=True).first()
    return _next_month(last) if last else None


def _aggregate_sql(*, since: datetime | None, until: datetime | None) -> tuple[str, list]:
    month, params = _month_sql("created_at")
    sums = ", ".join(f"SUM({expr}) AS {name}" for name, expr in _MOVEMENTS.items())
    where, where_params = [], []
    if since is not None:
        where.append("created_at >= %s")
        where_params.append(connection.ops.adapt_datetimefield_value(since))
    if until is not None:
        where.append("created_at < %s")
        where_params.append(connection.ops.adapt_datetimefield_value(until))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT store_id, {month} AS month, {sums} FROM {WalletEntry._meta.db_table}{clause} GROUP BY 1, 2"
    return sql, [*params, *where_params]


@transaction.atomic
def wallet_months_close(*, now: datetime | None = None) -> int:
    """Sum every closed month (before this one) not yet in the summary table, in one statement; the ledger
    only grows at its end, so a closed month never changes. Safe to run twice."""
    now = now or timezone.now()
    current = _month_start(now)
    since = _summarised_until()
    if since is not None and since >= current:
        return 0
    select, params = _aggregate_sql(since=_aware(since) if since else None, until=_aware(current))
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {WalletMonth._meta.db_table} (store_id, month, {columns}) "
            f"SELECT store_id, month, {columns} FROM ({select}) x",
            params,
        )
        return cursor.rowcount


@dataclass(frozen=True)
class LiabilityRow:
    store: str
    month: date
    recharged: Decimal
    bonus_granted: Decimal
    spent_principal: Decimal
    spent_bonus: Decimal
    withdrawn: Decimal
    breakage: Decimal
    outstanding_principal: Decimal
    outstanding_bonus: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.outstanding_principal + self.outstanding_bonus


def wallet_liability(*, store_id: int | None = None) -> list[LiabilityRow]:
    """What the merchant owes its members, by home store and month: the month's recharges, bonus, spending,
    cash refunds and breakage (expired or forfeited bonus), and the principal and bonus outstanding at its end.
    Closed months come from the summary table, the rest from the ledger, in one query."""
    since = _summarised_until()
    live, live_params = _aggregate_sql(since=_aware(since) if since else None, until=None)
    sums = ", ".join(f"SUM({name}) AS {name}" for name in COLUMNS)
    filter_sql, filter_params = ("WHERE store_id = %s", [store_id]) if store_id else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.code, x.month, {', '.join('x.' + c for c in COLUMNS[:6])}, "
            f"SUM(x.net_principal) OVER w, SUM(x.net_bonus) OVER w FROM ("
            f"SELECT store_id, month, {sums} FROM (SELECT store_id, month, {', '.join(COLUMNS)} "
            f"FROM {WalletMonth._meta.db_table} UNION ALL {live}) u {filter_sql} GROUP BY store_id, month) x "
            f"LEFT JOIN {Store._meta.db_table} s ON s.id = x.store_id "
            f"WINDOW w AS (PARTITION BY x.store_id ORDER BY x.month) ORDER BY s.code, x.month",
            [*live_params, *filter_params],
        )
        rows = cursor.fetchall()
    result = []
    for code, month, *values in rows:
        result.append(LiabilityRow(code or "-", month, *(quantize_money(v or 0) for v in values)))
    return result
