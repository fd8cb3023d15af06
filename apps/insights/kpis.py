"""The operations KPIs: aggregates kept up to date by a task, and the figures read from them.

Orders become ``SalesDay`` (every order, per business day, store and channel) and ``MemberMonth`` (each
member's orders per month, store and channel). From those, ``KpiMonth`` holds each month's figures for
everything, each store, each channel and each store and channel, so the dashboard and the API read a
handful of small rows however many orders there are. The store of an order is the store it is credited
to (the guide's store for an online order a guide brought in), else the store that sold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.dates import local_midnight
from apps.members.models import Consent, Identity, Member
from apps.orders.credit import order_credited_store_sql
from apps.orders.models import Order, Refund

from .models import (
    CohortMonth,
    KpiMonth,
    KpiStaleMonth,
    KpiWatermark,
    MemberMonth,
    PeopleMonth,
    SalesDay,
    TierMonth,
)

COUNTED = "(o.total = 0 OR o.refunded_total < o.total)"
STORE = order_credited_store_sql("o")

DEFINITIONS: dict[str, Any] = {
    "member_share_of_transactions": _(
        "Orders placed by members / all orders in the month (orders refunded in full are not counted)."
    ),
    "member_share_of_sales": _("Members' net sales (after refunds) / all net sales in the month."),
    "reachable_share": _(
        "Members with a WeChat openid who consent to WeChat messages / all members who had joined by the end of "
        "the month (by joining store and channel; consent and identities as they stood when the month was last "
        "computed)."
    ),
    "active_members": _("Members with at least one order (not refunded in full) in the month."),
    "purchase_frequency": _("Members' orders in the month / active members."),
    "average_order_value": _("Members' net sales / members' orders in the month."),
    "annual_contribution_per_member": _(
        "Purchase frequency x average order value over the 12 months ending with the month "
        "(= members' net sales over those 12 months / members active in them)."
    ),
    "repurchase_rate": _(
        "Of the members active in the 12 months ending with the month, the share with at least two orders in them."
    ),
    "churn_rate": _(
        "Of the members who bought in the 12 months before the month, the share whose last purchase is now "
        "12 months old (they bought 12 months ago and not since): members lost this month."
    ),
    "new_member_sales": _("Net sales to members who joined in the same month."),
    "returning_member_sales": _("Net sales to members who joined before the month."),
    "recruited": _("Members who joined in the month (by joining store and channel)."),
}


# -- the refresh (writes) --------------------------------------------------------------------------------


def _month(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _start(month: date) -> datetime:
    return local_midnight(month)


def _months_touched(cursor, *, orders_since: datetime | None, refunds_since: datetime | None) -> set[date]:
    """Months holding orders created, or refunded, since the watermarks (all months on the first run)."""
    o, r, tz = Order._meta.db_table, Refund._meta.db_table, settings.TIME_ZONE
    if orders_since is None:
        cursor.execute(f"SELECT DISTINCT date_trunc('month', placed_at AT TIME ZONE %s)::date FROM {o}", [tz])
        return {row[0] for row in cursor.fetchall()}
    cursor.execute(
        f"""
        SELECT date_trunc('month', placed_at AT TIME ZONE %(tz)s)::date FROM {o} WHERE created_at > %(orders)s
        UNION
        SELECT date_trunc('month', o.placed_at AT TIME ZONE %(tz)s)::date
        FROM {r} f JOIN {o} o ON o.id = f.order_id WHERE f.created_at > %(refunds)s
        """,
        {"tz": tz, "orders": orders_since, "refunds": refunds_since or orders_since},
    )
    return {row[0] for row in cursor.fetchall()}


def _rebuild_order_aggregates(cursor, months: list[date]) -> None:
    """SalesDay and MemberMonth for whole months, from the orders (delete, then INSERT ... SELECT)."""
    o, m = Order._meta.db_table, Member._meta.db_table
    sd, mm = SalesDay._meta.db_table, MemberMonth._meta.db_table
    tz = settings.TIME_ZONE
    for month in months:
        lo, hi = _start(month), _start(_add_months(month, 1))
        params = {"tz": tz, "lo": lo, "hi": hi, "month": month}
        cursor.execute(f"DELETE FROM {sd} WHERE day >= %(month)s AND day < %(next)s", {**params, "next": hi.date()})
        cursor.execute(f"DELETE FROM {mm} WHERE month = %(month)s", params)
        cursor.execute(
            f"""
            INSERT INTO {sd} (day, store_id, channel_id, orders, member_orders, sales, member_sales, new_member_sales)
            SELECT (o.placed_at AT TIME ZONE %(tz)s)::date, {STORE}, o.channel_id,
                   count(*) FILTER (WHERE {COUNTED}),
                   count(*) FILTER (WHERE {COUNTED} AND o.member_id IS NOT NULL),
                   coalesce(sum(o.total - o.refunded_total), 0),
                   coalesce(sum(o.total - o.refunded_total) FILTER (WHERE o.member_id IS NOT NULL), 0),
                   coalesce(sum(o.total - o.refunded_total) FILTER (WHERE m.joined_at >= %(lo)s), 0)
            FROM {o} o LEFT JOIN {m} m ON m.id = o.member_id
            WHERE o.placed_at >= %(lo)s AND o.placed_at < %(hi)s
            GROUP BY 1, 2, 3
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO {mm} (month, member_id, store_id, channel_id, orders, sales)
            SELECT %(month)s, o.member_id, {STORE}, o.channel_id, count(*), sum(o.total - o.refunded_total)
            FROM {o} o
            WHERE o.placed_at >= %(lo)s AND o.placed_at < %(hi)s AND o.member_id IS NOT NULL AND {COUNTED}
            GROUP BY 2, 3, 4
            """,
            params,
        )


def _rebuild_kpi_month(cursor, month: date, now: datetime) -> None:
    """One month's KpiMonth rows (all, per store, per channel, per store and channel) in two statements."""
    sd, mm, k = SalesDay._meta.db_table, MemberMonth._meta.db_table, KpiMonth._meta.db_table
    params = {
        "month": month,
        "next": _add_months(month, 1),
        "year_start": _add_months(month, -11),
        "base_start": _add_months(month, -12),
        "now": now,
    }
    cursor.execute(f"DELETE FROM {k} WHERE month = %(month)s", params)
    cursor.execute(
        f"""
        WITH sales AS (
            SELECT store_id, channel_id, GROUPING(store_id) AS all_stores, GROUPING(channel_id) AS all_channels,
                   sum(orders) AS orders, sum(member_orders) AS member_orders, sum(sales) AS sales,
                   sum(member_sales) AS member_sales, sum(new_member_sales) AS new_member_sales
            FROM {sd} WHERE day >= %(month)s AND day < %(next)s
            GROUP BY GROUPING SETS ((), (store_id), (channel_id), (store_id, channel_id))
        ), per_member AS (
            SELECT member_id, store_id, channel_id,
                   GROUPING(store_id) AS all_stores, GROUPING(channel_id) AS all_channels,
                   bool_or(month = %(month)s) AS active_now,
                   bool_or(month < %(month)s) AS bought_before,
                   bool_or(month >= %(year_start)s) AS active_12m,
                   coalesce(sum(orders) FILTER (WHERE month >= %(year_start)s), 0) AS orders_12m,
                   coalesce(sum(sales) FILTER (WHERE month >= %(year_start)s), 0) AS sales_12m,
                   max(month) AS last_month
            FROM {mm} WHERE month >= %(base_start)s AND month <= %(month)s
            GROUP BY GROUPING SETS ((member_id), (member_id, store_id), (member_id, channel_id),
                                    (member_id, store_id, channel_id))
        ), members AS (
            SELECT store_id, channel_id, all_stores, all_channels,
                   count(*) FILTER (WHERE active_now) AS active_members,
                   count(*) FILTER (WHERE active_now AND bought_before) AS returning_members,
                   count(*) FILTER (WHERE active_12m) AS active_12m,
                   sum(orders_12m) AS orders_12m, sum(sales_12m) AS sales_12m,
                   count(*) FILTER (WHERE orders_12m >= 2) AS repeat_12m,
                   count(*) FILTER (WHERE bought_before) AS base_prev_12m,
                   count(*) FILTER (WHERE last_month = %(base_start)s) AS churned
            FROM per_member GROUP BY store_id, channel_id, all_stores, all_channels
        )
        INSERT INTO {k} (month, store_id, channel_id, orders, member_orders, sales, member_sales, new_member_sales,
                         active_members, returning_members, active_12m, orders_12m, sales_12m, repeat_12m,
                         base_prev_12m, churned, members_total, members_reachable, recruited, computed_at)
        SELECT %(month)s, coalesce(s.store_id, m.store_id), coalesce(s.channel_id, m.channel_id),
               coalesce(s.orders, 0), coalesce(s.member_orders, 0), coalesce(s.sales, 0),
               coalesce(s.member_sales, 0), coalesce(s.new_member_sales, 0),
               coalesce(m.active_members, 0), coalesce(m.returning_members, 0), coalesce(m.active_12m, 0),
               coalesce(m.orders_12m, 0), coalesce(m.sales_12m, 0), coalesce(m.repeat_12m, 0),
               coalesce(m.base_prev_12m, 0), coalesce(m.churned, 0), 0, 0, 0, %(now)s
        FROM sales s
        FULL JOIN members m ON m.all_stores = s.all_stores AND m.all_channels = s.all_channels
             AND m.store_id IS NOT DISTINCT FROM s.store_id AND m.channel_id IS NOT DISTINCT FROM s.channel_id
        -- an order without a store counts in the totals, not as a store of its own
        WHERE NOT (coalesce(s.all_stores, m.all_stores) = 0 AND coalesce(s.store_id, m.store_id) IS NULL)
        """,
        params,
    )


def _rebuild_member_figures(cursor, months: list[date], now: datetime) -> None:
    """Members, reachable members and recruits per month (by joining store and channel), tiers and people."""
    m, i, c = Member._meta.db_table, Identity._meta.db_table, Consent._meta.db_table
    k, p, tm = KpiMonth._meta.db_table, PeopleMonth._meta.db_table, TierMonth._meta.db_table
    tz = settings.TIME_ZONE
    cursor.execute("DROP TABLE IF EXISTS kpi_joins")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE kpi_joins AS
        WITH reachable AS (  -- a WeChat openid and consent to WeChat messages; joined once, not probed per member
            SELECT member_id FROM {i} WHERE kind = 'wechat_openid' AND channel_id IS NULL
            INTERSECT
            SELECT member_id FROM {c} WHERE channel = 'wechat' AND granted
        )
        SELECT date_trunc('month', m.joined_at AT TIME ZONE %(tz)s)::date AS month, m.join_store_id AS store_id,
               m.join_channel_id AS channel_id, m.recruited_by_id AS guide_id, count(*) AS joined,
               count(r.member_id) AS reachable
        FROM {m} m LEFT JOIN reachable r ON r.member_id = m.id
        WHERE m.status = 'active' GROUP BY 1, 2, 3, 4
        """,
        {"tz": tz},
    )
    for month in months:
        params = {"month": month, "next": _add_months(month, 1), "now": now}
        cursor.execute(
            f"""
            WITH figures AS (
                SELECT store_id, channel_id, GROUPING(store_id) AS all_stores, GROUPING(channel_id) AS all_channels,
                       sum(joined) AS total, sum(reachable) AS reachable,
                       coalesce(sum(joined) FILTER (WHERE month = %(month)s), 0) AS recruited
                FROM kpi_joins WHERE month <= %(month)s
                GROUP BY GROUPING SETS ((), (store_id), (channel_id), (store_id, channel_id))
            ), missing AS (
                INSERT INTO {k} (month, store_id, channel_id, orders, member_orders, sales, member_sales,
                                 new_member_sales, active_members, returning_members, active_12m, orders_12m,
                                 sales_12m, repeat_12m, base_prev_12m, churned, members_total, members_reachable,
                                 recruited, computed_at)
                SELECT %(month)s, f.store_id, f.channel_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       f.total, f.reachable, f.recruited, %(now)s
                FROM figures f
                WHERE f.recruited > 0 AND NOT (f.all_stores = 0 AND f.store_id IS NULL)
                  AND NOT (f.all_channels = 0 AND f.channel_id IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM {k} x WHERE x.month = %(month)s
                       AND x.store_id IS NOT DISTINCT FROM f.store_id
                       AND x.channel_id IS NOT DISTINCT FROM f.channel_id)
            )
            UPDATE {k} x SET members_total = f.total, members_reachable = f.reachable, recruited = f.recruited
            FROM figures f
            WHERE x.month = %(month)s AND x.store_id IS NOT DISTINCT FROM f.store_id
              AND x.channel_id IS NOT DISTINCT FROM f.channel_id
            """,
            params,
        )
        cursor.execute(f"DELETE FROM {p} WHERE month = %(month)s", params)
        cursor.execute(
            f"""
            INSERT INTO {p} (month, store_id, guide_id, recruited, orders, sales)
            SELECT %(month)s, store_id, guide_id, sum(recruited), sum(orders), sum(sales) FROM (
                SELECT store_id, NULL::int AS guide_id, joined AS recruited, 0 AS orders, 0 AS sales
                FROM kpi_joins WHERE month = %(month)s AND store_id IS NOT NULL
                UNION ALL
                SELECT NULL, guide_id, joined, 0, 0 FROM kpi_joins WHERE month = %(month)s AND guide_id IS NOT NULL
                UNION ALL
                SELECT {STORE}, NULL, 0, 1, o.total - o.refunded_total FROM {Order._meta.db_table} o
                WHERE o.placed_at >= %(lo)s AND o.placed_at < %(hi)s AND {STORE} IS NOT NULL AND {COUNTED}
                UNION ALL
                SELECT NULL, o.credited_guide_id, 0, 1, o.total - o.refunded_total FROM {Order._meta.db_table} o
                WHERE o.placed_at >= %(lo)s AND o.placed_at < %(hi)s AND o.credited_guide_id IS NOT NULL
                  AND {COUNTED}
            ) x GROUP BY store_id, guide_id
            """,
            {**params, "lo": _start(month), "hi": _start(_add_months(month, 1))},
        )
    current = _month(timezone.localdate(now))
    cursor.execute(f"DELETE FROM {tm} WHERE month = %s", [current])
    cursor.execute(
        f"""
        INSERT INTO {tm} (month, store_id, tier_id, members)
        SELECT %s, join_store_id, tier_id, count(*) FROM {m} WHERE status = 'active'
        GROUP BY GROUPING SETS ((tier_id), (join_store_id, tier_id))
        HAVING NOT (GROUPING(join_store_id) = 0 AND join_store_id IS NULL)
        """,
        [current],
    )
    cursor.execute("DROP TABLE kpi_joins")


def _rebuild_cohorts(cursor, now: datetime) -> None:
    """Retention of the last 12 join-month cohorts, overall and by joining store."""
    m, mm, co = Member._meta.db_table, MemberMonth._meta.db_table, CohortMonth._meta.db_table
    first = _add_months(_month(timezone.localdate(now)), -11)
    params = {"tz": settings.TIME_ZONE, "first": first, "lo": _start(first)}
    cursor.execute(f"DELETE FROM {co}")
    cursor.execute(
        f"""
        WITH cohort AS (
            SELECT id, join_store_id, date_trunc('month', joined_at AT TIME ZONE %(tz)s)::date AS cohort
            FROM {m} WHERE status = 'active' AND joined_at >= %(lo)s
        ), sizes AS (
            SELECT cohort, join_store_id AS store_id, GROUPING(join_store_id) AS all_stores, count(*) AS size
            FROM cohort GROUP BY GROUPING SETS ((cohort), (cohort, join_store_id))
        ), buying AS (
            SELECT c.cohort, mm.month, c.join_store_id AS store_id, GROUPING(c.join_store_id) AS all_stores,
                   count(DISTINCT c.id) AS active
            FROM cohort c JOIN {mm} mm ON mm.member_id = c.id AND mm.month >= c.cohort
            GROUP BY GROUPING SETS ((c.cohort, mm.month), (c.cohort, mm.month, c.join_store_id))
        )
        INSERT INTO {co} (cohort, month, store_id, cohort_size, active)
        SELECT b.cohort, b.month, b.store_id, s.size, b.active FROM buying b
        JOIN sizes s ON s.cohort = b.cohort AND s.all_stores = b.all_stores
             AND s.store_id IS NOT DISTINCT FROM b.store_id
        WHERE NOT (b.all_stores = 0 AND b.store_id IS NULL)
        """,
        params,
    )


def kpi_aggregates_refresh(*, now: datetime | None = None, full: bool = False) -> dict[str, int]:
    """Fold orders created or refunded since the last run into the aggregates, then recompute the
    figures of every month they can change (a month's 12-month windows reach 12 months forward)."""
    now = now or timezone.now()
    current = _month(timezone.localdate(now))
    with transaction.atomic(), connection.cursor() as cursor:
        watermark = KpiWatermark.objects.select_for_update().filter(pk=1).first() or KpiWatermark.objects.create(pk=1)
        if full:
            watermark.orders_through = watermark.refunds_through = None
        touched = _months_touched(
            cursor, orders_since=watermark.orders_through, refunds_since=watermark.refunds_through
        )
        cursor.execute(f"DELETE FROM {KpiStaleMonth._meta.db_table} RETURNING month")  # months merges changed
        touched = sorted(touched | {row[0] for row in cursor.fetchall()})
        _rebuild_order_aggregates(cursor, touched)
        kpi_months = {current}
        for month in touched:
            kpi_months |= {_add_months(month, n) for n in range(13)}
        kpi_months = sorted(m for m in kpi_months if m <= current)
        for month in kpi_months:
            _rebuild_kpi_month(cursor, month, now)
        _rebuild_member_figures(cursor, kpi_months, now)
        _rebuild_cohorts(cursor, now)
        watermark.orders_through = watermark.refunds_through = now
        watermark.refreshed_at = now
        watermark.save()
    return {"order_months": len(touched), "kpi_months": len(kpi_months)}


# -- the figures (reads) ---------------------------------------------------------------------------------


def _ratio(numerator, denominator, places: str = "0.0001") -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places))


def _money(value) -> str:
    return f"{Decimal(value):.2f}"


@dataclass(frozen=True)
class KpiScope:
    month: date
    store_id: int | None = None
    channel_id: int | None = None


def _rows(scope: KpiScope, months: list[date]) -> dict[date, KpiMonth]:
    q = Q(month__in=months) & (Q(store_id=scope.store_id) if scope.store_id else Q(store_id__isnull=True))
    q &= Q(channel_id=scope.channel_id) if scope.channel_id else Q(channel_id__isnull=True)
    return {row.month: row for row in KpiMonth.objects.filter(q)}


def figures_of(row: KpiMonth | None) -> dict[str, Any]:
    """The dashboard's figures from one KpiMonth row (zeros and nulls when nothing happened)."""
    row = row or KpiMonth(computed_at=timezone.now())
    frequency = _ratio(row.member_orders, row.active_members, "0.01")
    aov = _ratio(row.member_sales, row.member_orders, "0.01")
    return {
        "member_share_of_transactions": _ratio(row.member_orders, row.orders),
        "member_share_of_sales": _ratio(row.member_sales, row.sales),
        "reachable_share": _ratio(row.members_reachable, row.members_total),
        "active_members": row.active_members,
        "purchase_frequency": frequency,
        "average_order_value": _money(aov) if aov is not None else None,
        "annual_contribution_per_member": (
            _money(_ratio(row.sales_12m, row.active_12m, "0.01")) if row.active_12m else None
        ),
        "repurchase_rate": _ratio(row.repeat_12m, row.active_12m),
        "churn_rate": _ratio(row.churned, row.base_prev_12m),
        "new_member_sales": _money(row.new_member_sales),
        "returning_member_sales": _money(Decimal(row.member_sales) - Decimal(row.new_member_sales)),
        "recruited": row.recruited,
        "orders": row.orders,
        "sales": _money(row.sales),
    }


def kpi_month_figures(*, scope: KpiScope) -> dict[str, Any]:
    """One month's figures with their definitions (one query)."""
    row = _rows(scope, [scope.month]).get(scope.month)
    figures = figures_of(row)
    return {
        "month": scope.month.strftime("%Y-%m"),
        "computed_at": row.computed_at if row else None,
        "figures": {
            name: {"value": value, "definition": str(DEFINITIONS[name])}
            for name, value in figures.items()
            if name in DEFINITIONS
        },
    }


def kpi_trend(*, scope: KpiScope, months: int = 12) -> list[tuple[date, dict[str, Any]]]:
    """The figures of the ``months`` months ending with the scope's month (one query)."""
    wanted = [_add_months(scope.month, -n) for n in range(months - 1, -1, -1)]
    rows = _rows(scope, wanted)
    return [(month, figures_of(rows.get(month))) for month in wanted]


def tier_distribution(*, store_id: int | None = None) -> list[dict[str, Any]]:
    from apps.members.models import Tier

    latest = TierMonth.objects.order_by("-month").values_list("month", flat=True).first()
    if latest is None:
        return []
    q = Q(month=latest) & (Q(store_id=store_id) if store_id else Q(store_id__isnull=True))
    counts = dict(TierMonth.objects.filter(q).values_list("tier_id", "members"))
    total = sum(counts.values()) or 1
    tiers = [(t.pk, t.name) for t in Tier.objects.order_by("rank")] + [(None, str(_("No tier")))]
    return [
        {"tier": name, "members": counts.get(pk, 0), "share": _ratio(counts.get(pk, 0), total)}
        for pk, name in tiers
        if counts.get(pk, 0) or pk is not None
    ]


def cohort_table(*, store_id: int | None = None) -> list[dict[str, Any]]:
    """Rows per join month: size and the share buying in each month since (offset 0, 1, 2 ...)."""
    q = Q(store_id=store_id) if store_id else Q(store_id__isnull=True)
    rows: dict[date, dict[str, Any]] = {}
    for cohort, month, size, active in CohortMonth.objects.filter(q).values_list(
        "cohort", "month", "cohort_size", "active"
    ):
        entry = rows.setdefault(cohort, {"cohort": cohort, "size": size, "shares": {}})
        offset = (month.year - cohort.year) * 12 + month.month - cohort.month
        entry["shares"][offset] = _ratio(active, size)
    width = max((max(r["shares"]) for r in rows.values() if r["shares"]), default=-1) + 1
    for entry in rows.values():
        entry["cells"] = [entry["shares"].get(n) for n in range(width)]
    return sorted(rows.values(), key=lambda r: r["cohort"])


def people_month(*, month: date) -> dict[str, list[dict[str, Any]]]:
    by_store = list(
        PeopleMonth.objects.filter(month=month, store__isnull=False)
        .values("store__code", "store__name", "recruited", "orders", "sales")
        .order_by("-sales")
    )
    by_guide = list(
        PeopleMonth.objects.filter(month=month, guide__isnull=False)
        .values("guide__code", "guide__name", "recruited", "orders", "sales")
        .order_by("-sales")
    )
    return {"stores": by_store, "guides": by_guide}


def kpi_months_merge(*, survivor_id: int, merged_id: int) -> dict[str, int]:
    """Merge hook: the months in which either member bought are rebuilt by the next KPI refresh.

    The merged member's orders now count as the survivor's (one active member, not two; the survivor's join
    date may move earlier), which the refresh cannot see from created or refunded orders. A row per month,
    not a field on the watermark: a merge never waits for a refresh in progress.
    """
    table = KpiStaleMonth._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (month) SELECT DISTINCT month FROM {MemberMonth._meta.db_table} "
            f"WHERE member_id IN (%s, %s) ON CONFLICT (month) DO NOTHING",
            [survivor_id, merged_id],
        )
        return {"kpi_months_marked": cursor.rowcount}
