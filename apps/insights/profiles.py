"""The nightly set-based refresh of every member's computed measures and rule tags.

A handful of statements, none looping over members: the measures that come from a member's own orders
are recomputed for the members whose orders changed (for everybody on a full run: one pass over the
orders, one over the last year's order lines), and the date- and population-dependent columns of every
profile are derived from the result (a full run writes both halves of a row at once); rule tags follow the
same split. Rows are written only
when a value changes, and the evaluation date is stored once (``ProfileRefresh``), so a night rewrites
only what that night changed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.catalog.models import Category, Product, Sku
from apps.core.dates import local_midnight
from apps.members.models import Member
from apps.orders.models import Order, OrderLine, Refund

from .models import InsightsConfig, MemberProfile, MemberTag, ProfileRefresh, Tag

# An order counts as a purchase unless it was refunded in full (a free order still counts).
COUNTED = "(o.total = 0 OR o.refunded_total < o.total)"

# R and F scores to the segment names operators use (the common 5x5 RFM grid).
RFM_SEGMENT_SQL = """
CASE
    WHEN r <= 2 AND f <= 2 THEN 'hibernating'
    WHEN r <= 2 AND f <= 4 THEN 'at_risk'
    WHEN r <= 2 THEN 'cannot_lose'
    WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
    WHEN r = 3 AND f = 3 THEN 'need_attention'
    WHEN r <= 4 AND f >= 4 THEN 'loyal'
    WHEN r = 4 AND f = 1 THEN 'promising'
    WHEN r = 5 AND f = 1 THEN 'new'
    WHEN f <= 3 THEN 'potential_loyalist'
    ELSE 'champions'
END
"""

# Columns computed from the member's own orders (kept for the members whose orders changed) ...
BASE_COLUMNS = (
    "first_purchase_on", "last_purchase_on", "orders", "purchase_days", "net_spend", "spend_12m", "frequency",
    "recency", "monetary_value", "average_order_value", "channel_habit", "favourite_category_id",
    "favourite_store_id", "idle_since",
)  # fmt: skip
# ... and columns that depend on the date, the settings or everybody else (looked at for every member nightly).
DERIVED_COLUMNS = ("recency_score", "frequency_score", "monetary_score", "rfm_segment", "lifecycle_stage", "power_band")
# The incremental nightly run cannot see a product moved to another category, nor a join date edited by hand;
# a full pass once a week does.
FULL_EVERY = timedelta(days=7)


def insights_config() -> InsightsConfig:
    config, _ = InsightsConfig.objects.get_or_create(pk=1)
    return config


def _tables() -> dict[str, str]:
    return {
        "member": Member._meta.db_table,
        "order": Order._meta.db_table,
        "line": OrderLine._meta.db_table,
        "refund": Refund._meta.db_table,
        "sku": Sku._meta.db_table,
        "product": Product._meta.db_table,
        "profile": MemberProfile._meta.db_table,
        "member_tag": MemberTag._meta.db_table,
        "category": Category._meta.db_table,
    }


_local_midnight = local_midnight


def member_profiles_refresh(*, today: date | None = None, full: bool = False) -> dict[str, int]:
    """Bring every active member's computed measures and the rule tags up to date as of ``today``.

    The measures that come from a member's own orders are recomputed for the members whose orders changed
    since the last run (new, refunded or moved orders, orders that entered the evaluation window or left
    the 12-month window) and for new members; a full run (the first, a weekly one, a date earlier than the
    last one, or ``full=True``) recomputes them for everybody. The date- and population-dependent columns
    (RFM scores, lifecycle stage, power band) of every profile follow: on a full run from the new rows, in
    the same write; on a nightly run in one statement after it. Only rows whose values change are written.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    t = _tables()
    params = {
        "tz": settings.TIME_ZONE,
        "until": _local_midnight(today + timedelta(days=1)),
        "year_ago": today - timedelta(days=365),
        "lines_since": _local_midnight(today - timedelta(days=364)),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Big one-off statements: the JIT would compile for seconds and save nothing here. A night reads a few
        # thousand members' orders through the member index; on a server whose data sits in memory that beats
        # a scan of every order, which the default random_page_cost would pick.
        cursor.execute(
            "SET LOCAL jit = off; SET LOCAL work_mem = '512MB'; SET LOCAL random_page_cost = 1.1; DROP TABLE IF "
            "EXISTS profile_scope, profile_scope_losers, profile_scope_orders, profile_scope_lines, profile_base, "
            "profile_full, profile_missing, profile_derived"
        )
        state = ProfileRefresh.objects.select_for_update().filter(pk=1).first() or ProfileRefresh.objects.create(pk=1)
        cursor.execute(
            f"SELECT (SELECT max(id) FROM {t['order']}), (SELECT max(id) FROM {t['refund']}), "
            f"(SELECT max(id) FROM {t['member']})"
        )
        seen = dict(zip(("orders", "refunds", "members"), (v or 0 for v in cursor.fetchone()), strict=True))
        since = state.seen_ids.get("before") or state.seen_ids.get("last")
        full = (
            full
            or not since
            or state.computed_on is None
            or today < state.computed_on
            or state.full_at is None
            or now - state.full_at >= FULL_EVERY
        )
        if full:
            scope = None
        else:
            _changed_members(cursor, t, since=since, previous=state.computed_on, today=today)
            scope = "profile_scope"
        _base_compute(cursor, t, params, scope=scope, new_orders=(since or {}).get("orders", 0))
        if full:
            profiles, changed = _full_write(cursor, t, today=today)
            changed += _inactive_dropped(cursor, t)
        else:
            changed = _profiles_write(cursor, t, "profile_base", BASE_COLUMNS)
            cursor.execute("DROP TABLE profile_base")
            changed += _inactive_dropped(cursor, t)  # before the population statistics
            profiles, derived = _derived_refresh(cursor, t, today=today)
            changed += derived
        rule_tags = rule_tags_refresh(now=now, scope=scope, state=state)
        if scope:
            cursor.execute("DROP TABLE profile_scope, profile_scope_losers, profile_scope_orders, profile_scope_lines")
        state.computed_on, state.computed_at = today, now
        state.seen_ids = {"before": state.seen_ids.get("last"), "last": seen}
        if full:
            state.full_at = now
        state.save()
    return {"profiles": profiles, "rule_tags": rule_tags, "changed": changed, "full": int(full)}


def _full_write(cursor, t: dict[str, str], *, today: date) -> tuple[int, int]:
    """Every active member is in ``profile_base``: the population statistics and the derived columns come from
    it, and each profile is written once with all its columns. Returns the profiles and the rows written."""
    scored, params, profiles = _derived_sql(cursor, "profile_base", today=today)
    derived = ", ".join(f"{new} AS {column}" for column, new in zip(DERIVED_COLUMNS, NEW_DERIVED, strict=True))
    cursor.execute(
        f"CREATE TEMPORARY TABLE profile_full ON COMMIT DROP AS "
        f"SELECT member_id, {', '.join(BASE_COLUMNS)}, {derived} FROM ({scored}) d",
        params,
    )
    cursor.execute("DROP TABLE profile_base")
    written = _profiles_write(cursor, t, "profile_full", BASE_COLUMNS + DERIVED_COLUMNS)
    cursor.execute("DROP TABLE profile_full")
    return profiles, written


def _inactive_dropped(cursor, t: dict[str, str]) -> int:
    """Delete the profiles of members no longer active (merged, erased); returns how many."""
    cursor.execute(
        f"DELETE FROM {t['profile']} p USING {t['member']} m WHERE m.id = p.member_id AND m.status <> 'active'"
    )
    return cursor.rowcount


def _changed_members(cursor, t: dict[str, str], *, since: dict, previous: date, today: date) -> None:
    """Fill the temporary table ``profile_scope`` with the members whose order-based measures may have changed.

    Ids, not timestamps, find what is new: the primary keys answer at once where a ``created_at`` would
    need a scan of every order.
    """
    # Members who may have lost a bought line (refunds) or had orders moved to them (a merge): rule tags are
    # recomputed from all their lines; anybody else can only gain a tag, through a new order.
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE profile_scope_losers ON COMMIT DROP AS
        SELECT o.member_id FROM {t["refund"]} r JOIN {t["order"]} o ON o.id = r.order_id
        WHERE r.id > %(refunds)s AND o.member_id IS NOT NULL
        UNION
        SELECT member_id FROM {t["profile"]} WHERE is_stale
        """,
        {"refunds": since.get("refunds", 0)},
    )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE profile_scope ON COMMIT DROP AS
        SELECT member_id FROM {t["order"]} WHERE id > %(orders)s AND member_id IS NOT NULL
        UNION
        SELECT member_id FROM profile_scope_losers
        UNION  -- placed after the last evaluation date, up to this one (entered the evaluation window)
        SELECT member_id FROM {t["order"]}
        WHERE placed_at >= %(previous_until)s AND placed_at < %(until)s AND member_id IS NOT NULL
        UNION  -- placed on the days that left the 12-month window since the last evaluation date
        SELECT member_id FROM {t["order"]}
        WHERE placed_at >= %(previous_since)s AND placed_at < %(since)s AND member_id IS NOT NULL
        UNION  -- joined since
        SELECT m.id FROM {t["member"]} m
        WHERE m.id > %(members)s AND NOT EXISTS (SELECT 1 FROM {t["profile"]} p WHERE p.member_id = m.id)
        """,
        {
            "orders": since.get("orders", 0),
            "members": since.get("members", 0),
            "previous_until": _local_midnight(previous + timedelta(days=1)),
            "until": _local_midnight(today + timedelta(days=1)),
            "previous_since": _local_midnight(previous - timedelta(days=364)),
            "since": _local_midnight(today - timedelta(days=364)),
        },
    )
    cursor.execute("ANALYZE profile_scope")


ORDER_COLUMNS = (
    "o.id, o.member_id, o.placed_at, o.store_id, o.is_online, o.total - o.refunded_total AS amount, "
    f"{COUNTED} AS counted"
)
LINE_JOINS = """
    JOIN {line} l ON l.order_id = o.id
    JOIN {sku} s ON s.id = l.sku_id
    JOIN {product} p ON p.id = s.product_id
"""


def _scope_orders(cursor, t: dict[str, str], params: dict, *, new_orders: int) -> None:
    """The orders of the members in ``profile_scope`` and the bought lines what follows needs, read once.

    Lines: the last year's (favourite category), those of new orders (rule tags gained) and all of the
    members in ``profile_scope_losers`` (rule tags lost).
    """
    cursor.execute(
        f"CREATE TEMPORARY TABLE profile_scope_orders ON COMMIT DROP AS SELECT {ORDER_COLUMNS} "
        f"FROM profile_scope sc JOIN {t['order']} o ON o.member_id = sc.member_id"
    )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE profile_scope_lines ON COMMIT DROP AS
        SELECT o.id AS order_id, o.member_id, o.placed_at, p.category_id
        FROM profile_scope_orders o {LINE_JOINS.format(**t)}
        WHERE l.quantity > l.refunded_quantity
          AND (o.placed_at >= %(lines_since)s OR o.id > %(new_orders)s
               OR o.member_id IN (SELECT member_id FROM profile_scope_losers))
        """,
        {**params, "new_orders": new_orders},
    )
    cursor.execute("ANALYZE profile_scope_orders; ANALYZE profile_scope_lines")


def _base_compute(cursor, t: dict[str, str], params: dict, *, scope: str | None, new_orders: int = 0) -> None:
    """The order-based columns of the members in ``scope`` (a table of member ids; None: every active member),
    into the temporary table ``profile_base``."""
    if scope:
        _scope_orders(cursor, t, params, new_orders=new_orders)
        orders, lines = "profile_scope_orders", "profile_scope_lines"
        members_filter = f"m.status = 'active' AND m.id IN (SELECT member_id FROM {scope})"
    else:
        # Read twice below (days, favourite store), each time from the covering member index in member order.
        orders = f"(SELECT {ORDER_COLUMNS} FROM {t['order']} o WHERE o.member_id IS NOT NULL)"
        lines = f"""(
            SELECT o.id AS order_id, o.member_id, o.placed_at, p.category_id
            FROM {t["order"]} o {LINE_JOINS.format(**t)}
            WHERE o.member_id IS NOT NULL AND o.placed_at >= %(lines_since)s AND l.quantity > l.refunded_quantity
        )"""
        members_filter = "m.status = 'active'"
        # Everybody: grouping streams member by member off the index, where hashing four million (member, day)
        # groups spills to disk; and the index is read by parallel workers, which the default costs of
        # handing rows from worker to leader talk the planner out of (measured: 5.2 s to 3.4 s for the days).
        cursor.execute(
            "SET LOCAL enable_hashagg = off; SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0"
        )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE profile_base ON COMMIT DROP AS
        WITH member_orders AS NOT MATERIALIZED (
            SELECT o.*, (o.placed_at AT TIME ZONE %(tz)s)::date AS day FROM {orders} o
            WHERE o.placed_at < %(until)s AND o.counted
        ), member_days AS (
            SELECT member_id, day, count(*) AS orders, sum(amount) AS amount,
                   bool_or(is_online) AS online, bool_or(NOT is_online) AS offline
            FROM member_orders GROUP BY member_id, day
        ), totals AS (
            SELECT member_id, min(day) AS first_day, max(day) AS last_day, count(*) AS days, sum(orders) AS orders,
                   sum(amount) AS net, coalesce(sum(amount) FILTER (WHERE day > %(year_ago)s), 0) AS spend_12m,
                   -- the first purchase day's spend: the least (day, spend) pair
                   (min(ARRAY[day - DATE '2000-01-01', amount]))[2] AS first_amount,
                   bool_or(online) AS online, bool_or(offline) AS offline
            FROM member_days GROUP BY member_id
        ), favourite_store AS (
            -- the most frequent store; mode() takes the first of equals in its order, the smallest id
            SELECT member_id, mode() WITHIN GROUP (ORDER BY store_id) AS store_id FROM member_orders
            WHERE store_id IS NOT NULL GROUP BY member_id
        ), favourite_category AS (
            -- as above, by the least of -count x 2^32 + id, whose low 32 bits are the id (ids stay below 2^32)
            SELECT member_id, min(-n * 4294967296 + category_id) & 4294967295 AS category_id
            FROM (
                SELECT member_id, category_id, count(*) AS n FROM {lines} l
                WHERE placed_at >= %(lines_since)s AND placed_at < %(until)s AND category_id IS NOT NULL
                GROUP BY 1, 2
            ) c
            GROUP BY member_id
        )
        SELECT m.id AS member_id, s.first_day AS first_purchase_on, s.last_day AS last_purchase_on,
               coalesce(s.orders, 0) AS orders, coalesce(s.days, 0) AS purchase_days, coalesce(s.net, 0) AS net_spend,
               coalesce(s.spend_12m, 0) AS spend_12m, coalesce(s.days - 1, 0) AS frequency,
               coalesce(s.last_day - s.first_day, 0) AS recency,
               CASE WHEN s.days > 1 THEN round((s.net - s.first_amount) / (s.days - 1), 2) ELSE 0 END
                   AS monetary_value,
               CASE WHEN s.orders > 0 THEN round(s.net / s.orders, 2) END AS average_order_value,
               CASE WHEN s.online AND s.offline THEN 'omnichannel' WHEN s.online THEN 'online_only'
                    WHEN s.offline THEN 'in_store_only' ELSE '' END AS channel_habit,
               fc.category_id AS favourite_category_id, fs.store_id AS favourite_store_id,
               coalesce(s.last_day, (m.joined_at AT TIME ZONE %(tz)s)::date) AS idle_since
        FROM {t["member"]} m
        LEFT JOIN totals s ON s.member_id = m.id
        LEFT JOIN favourite_store fs ON fs.member_id = m.id
        LEFT JOIN favourite_category fc ON fc.member_id = m.id
        WHERE {members_filter}
        """,
        params,
    )
    if not scope:
        cursor.execute("RESET enable_hashagg; RESET parallel_setup_cost; RESET parallel_tuple_cost")
    cursor.execute("ANALYZE profile_base")


def _profiles_write(cursor, t: dict[str, str], source: str, columns: tuple[str, ...]) -> int:
    """Write ``columns`` from ``source`` (a table with member_id) to the profiles, where they differ or the
    profile is missing; returns the number of rows written."""
    names = ", ".join(columns)
    old, new = ", ".join(f"p.{c}" for c in columns), ", ".join(f"b.{c}" for c in columns)
    cursor.execute(
        f"""
        UPDATE {t["profile"]} p SET ({names}, is_stale) = ({new}, false) FROM {source} b
        WHERE p.member_id = b.member_id AND (p.is_stale OR ({old}) IS DISTINCT FROM ({new}))
        """
    )
    written = cursor.rowcount
    # The missing profiles are found before any is inserted: an INSERT whose SELECT reads its own target can
    # be planned as a scan of that table per row (right when it is empty), and the table grows as it runs.
    cursor.execute(
        f"CREATE TEMPORARY TABLE profile_missing ON COMMIT DROP AS SELECT b.member_id FROM {source} b "
        f"WHERE NOT EXISTS (SELECT 1 FROM {t['profile']} p WHERE p.member_id = b.member_id)"
    )
    defaults = {"lifecycle_stage": "''", "rfm_segment": "''", "power_band": "''"}
    extra = [c for c in defaults if c not in columns]
    cursor.execute(
        f"""
        INSERT INTO {t["profile"]} (member_id, {names}, {"".join(f"{c}, " for c in extra)}is_stale)
        SELECT b.member_id, {new}, {"".join(f"{defaults[c]}, " for c in extra)}false
        FROM {source} b JOIN profile_missing x ON x.member_id = b.member_id
        """
    )
    written += cursor.rowcount
    cursor.execute("DROP TABLE profile_missing")
    return written


def _order_statistics(cursor, table: str) -> tuple[int, dict[str, list]]:
    """All rows of ``table`` (profiles), and per RFM measure the values the scores cut at (over the profiles
    with a purchase).

    The score of a value is 1 + floor(5 x its percent rank), at most 5, where the percent rank is
    (members with a smaller value) / (population - 1). So the score is 1 + the number of k in 1..4 with
    5 x below >= k x (n - 1), i.e. below >= c_k = ceil(k (n - 1) / 5); and a value has at least c_k members
    below it exactly when it is greater than the c_k-th smallest value. Four order statistics per measure
    then score every member without ranking them all (with n >= 2 every c_k is at least 1).
    """
    # Days and last purchase days take few values: one scan counts each value of both, and the cut values
    # are read off the running totals (a profile has a purchase exactly when it has purchase days).
    cursor.execute(
        f"SELECT GROUPING(last_purchase_on), last_purchase_on, purchase_days, count(*) FROM {table} "
        "GROUP BY GROUPING SETS ((last_purchase_on), (purchase_days))"
    )
    counts: dict[str, list] = {"last_purchase_on": [], "purchase_days": []}
    for by_days, last_day, days, count in cursor.fetchall():
        if by_days:
            counts["purchase_days"].append((days, count))
        else:
            counts["last_purchase_on"].append((last_day, count))
    profiles = sum(count for _, count in counts["purchase_days"])
    n = sum(count for days, count in counts["purchase_days"] if days > 0)
    if n <= 1:
        return profiles, {}  # one member scores 1 (a percent rank of 0)
    positions = [-(-k * (n - 1) // 5) for k in range(1, 5)]
    cuts: dict[str, list] = {}
    for column, histogram in counts.items():
        values, running = [], 0
        for value, count in sorted(
            (v, c) for v, c in histogram if v is not None and (column != "purchase_days" or v > 0)
        ):
            running += count
            values.extend([value] * sum(1 for c in positions[len(values) :] if c <= running))
        cuts[column] = values
    # percentile_disc(f) is the value at position ceil(f x n): (c - 0.5) / n lands on position c whatever the rounding
    cursor.execute(
        f"SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY net_spend) FROM {table} WHERE orders > 0",
        [[(c - 0.5) / n for c in positions]],
    )
    cuts["net_spend"] = cursor.fetchone()[0]
    return profiles, cuts


# What the derived columns become, as named in _derived_sql, in the order of DERIVED_COLUMNS.
NEW_DERIVED = ("new_r", "new_f", "new_m", "new_segment", "new_stage", "new_band")


def _derived_sql(cursor, source: str, *, today: date) -> tuple[str, dict, int]:
    """A SELECT of every row of ``source`` (profiles, or rows shaped like them) with the derived columns'
    new values added as NEW_DERIVED, its parameters, and the number of rows. Scores cut at ``source``'s own
    order statistics."""
    config = insights_config()
    profiles, cuts = _order_statistics(cursor, source)
    params: dict = {
        "today": today,
        "at_risk": config.at_risk_days,
        "dormant": config.dormant_days,
        "churned": config.churned_days,
        "medium": config.power_medium_from,
        "high": config.power_high_from,
        "premium": config.power_premium_from,
    }

    def score(column: str) -> str:
        terms = ["1"]
        for k, cut in enumerate(cuts.get(column, []), start=1):
            params[f"{column}_{k}"] = cut
            terms.append(f"({column} > %({column}_{k})s)::int")
        return f"CASE WHEN orders > 0 THEN {' + '.join(terms)} END"

    grid = RFM_SEGMENT_SQL.replace(" r ", " new_r ").replace(" f ", " new_f ")
    # The new values are computed once per row (OFFSET 0 keeps the planner from pasting the score expressions
    # into every use).
    sql = f"""
        SELECT *, CASE WHEN orders > 0 THEN {grid} ELSE '' END AS new_segment
        FROM (
            SELECT src.*,
                   {score("last_purchase_on")} AS new_r, {score("purchase_days")} AS new_f,
                   {score("net_spend")} AS new_m,
                   CASE WHEN %(today)s::date - idle_since >= %(churned)s THEN 'churned'
                        WHEN %(today)s::date - idle_since >= %(dormant)s THEN 'dormant'
                        WHEN %(today)s::date - idle_since >= %(at_risk)s THEN 'at_risk'
                        WHEN purchase_days <= 1 THEN 'new' ELSE 'active' END AS new_stage,
                   CASE WHEN average_order_value IS NULL THEN ''
                        WHEN average_order_value >= %(premium)s THEN 'premium'
                        WHEN average_order_value >= %(high)s THEN 'high'
                        WHEN average_order_value >= %(medium)s THEN 'medium' ELSE 'low' END AS new_band
            FROM {source} src
            OFFSET 0
        ) scored
    """
    return sql, params, profiles


def _derived_refresh(cursor, t: dict[str, str], *, today: date) -> tuple[int, int]:
    """Set the columns that depend on the date, the settings and the population, where they change.

    Returns the number of profiles and the number of rows written.
    """
    scored, params, profiles = _derived_sql(cursor, t["profile"], today=today)
    old, new = ", ".join(DERIVED_COLUMNS), ", ".join(NEW_DERIVED)
    # The few rows that differ are kept aside, then written through the primary key.
    cursor.execute(
        f"CREATE TEMPORARY TABLE profile_derived ON COMMIT DROP AS SELECT member_id, {new} FROM ({scored}) s "
        f"WHERE ({old}) IS DISTINCT FROM ({new})",
        params,
    )
    cursor.execute("ANALYZE profile_derived")
    cursor.execute(
        f"UPDATE {t['profile']} p SET ({old}) = ({new}) FROM profile_derived d WHERE p.member_id = d.member_id"
    )
    rows = cursor.rowcount
    cursor.execute("DROP TABLE profile_derived")
    return profiles, rows


def _category_ids_sql(tag_id: int) -> str:
    """The tag's categories and everything below them, as a recursive SELECT of ids."""
    through = Tag.rule_categories.through._meta.db_table
    category = Category._meta.db_table
    return f"""
        WITH RECURSIVE tree(root_id, id) AS (
            SELECT category_id, category_id FROM {through} WHERE tag_id = {int(tag_id)}
            UNION SELECT tree.root_id, c.id FROM {category} c JOIN tree ON c.parent_id = tree.id
        ) SELECT root_id, id FROM tree
    """


def rule_tags_refresh(
    *, now: datetime | None = None, scope: str | None = None, state: ProfileRefresh | None = None
) -> int:
    """Recompute every rule tag's members (one statement per rule tag, whatever the number of members).

    With ``scope`` (``profile_scope``: the members whose orders changed; ``profile_scope_lines``: the lines
    of their new orders and all lines of ``profile_scope_losers``) a "bought together" tag is added from new
    orders and recomputed for refunded and merged members only, unless its
    definition (categories and the categories below them) changed since ``state`` recorded it. A "carries a
    tag, never bought" tag follows manual tags and is always recomputed.
    """
    now = now or timezone.now()
    t = _tables()
    total = 0
    definitions: dict[str, str] = {}
    known = state.rule_tags if state is not None else {}
    with transaction.atomic(), connection.cursor() as cursor:
        for tag in Tag.objects.filter(kind=Tag.Kind.RULE).prefetch_related("rule_categories"):
            roots = len(tag.rule_categories.all())
            only_scope = False
            if tag.rule == Tag.Rule.BOUGHT_TOGETHER:
                if not roots:
                    continue
                cursor.execute(f"SELECT root_id, id FROM ({_category_ids_sql(tag.pk)}) tree ORDER BY 1, 2")
                definitions[str(tag.pk)] = f"{tag.rule}:{cursor.fetchall()}"
                only_scope = scope is not None and known.get(str(tag.pk)) == definitions[str(tag.pk)]
                if only_scope:  # the scope's bought lines, already read by the profile refresh
                    matching = f"""
                        SELECT DISTINCT l.member_id FROM profile_scope_lines l
                        JOIN ({_category_ids_sql(tag.pk)}) cat ON cat.id = l.category_id
                        GROUP BY l.order_id, l.member_id HAVING count(DISTINCT cat.root_id) = {roots}
                    """
                else:
                    # The orders are found from their lines alone; only those are looked up for their member.
                    matching = f"""
                        SELECT DISTINCT o.member_id FROM (
                            SELECT l.order_id FROM {t["line"]} l
                            JOIN {t["sku"]} s ON s.id = l.sku_id
                            JOIN {t["product"]} p ON p.id = s.product_id
                            JOIN ({_category_ids_sql(tag.pk)}) cat ON cat.id = p.category_id
                            WHERE l.quantity > l.refunded_quantity
                            GROUP BY l.order_id HAVING count(DISTINCT cat.root_id) = {roots}
                        ) bought
                        JOIN {t["order"]} o ON o.id = bought.order_id
                        WHERE o.member_id IS NOT NULL
                    """
            elif tag.rule == Tag.Rule.TAGGED_NEVER_BOUGHT:
                if tag.rule_tag_id is None:
                    continue
                bought = f"""
                    SELECT 1 FROM {t["order"]} o
                    JOIN {t["line"]} l ON l.order_id = o.id
                    JOIN {t["sku"]} s ON s.id = l.sku_id
                    JOIN {t["product"]} p ON p.id = s.product_id
                    WHERE o.member_id = mt.member_id AND l.quantity > l.refunded_quantity
                """
                if roots:
                    bought += f" AND p.category_id IN (SELECT id FROM ({_category_ids_sql(tag.pk)}) cat)"
                matching = f"""
                    SELECT mt.member_id FROM {t["member_tag"]} mt
                    WHERE mt.tag_id = {int(tag.rule_tag_id)} AND NOT EXISTS ({bought})
                """
            else:
                continue
            cursor.execute("DROP TABLE IF EXISTS rule_tag_members")
            cursor.execute(f"CREATE TEMPORARY TABLE rule_tag_members AS {matching}")
            cursor.execute("ANALYZE rule_tag_members")
            # a member keeps a tag unless a refund or a merge touched their orders
            among = "AND mt.member_id IN (SELECT member_id FROM profile_scope_losers)" if only_scope else ""
            cursor.execute(
                f"DELETE FROM {t['member_tag']} mt WHERE mt.tag_id = %s {among} "
                f"AND NOT EXISTS (SELECT 1 FROM rule_tag_members r WHERE r.member_id = mt.member_id)",
                [tag.pk],
            )
            cursor.execute(
                f"INSERT INTO {t['member_tag']} (member_id, tag_id, assigned_at) "
                f"SELECT member_id, %s, %s FROM rule_tag_members ON CONFLICT (member_id, tag_id) DO NOTHING",
                [tag.pk, now],
            )
            cursor.execute(f"SELECT count(*) FROM {t['member_tag']} WHERE tag_id = %s", [tag.pk])
            total += cursor.fetchone()[0]
            cursor.execute("DROP TABLE rule_tag_members")
    if state is not None:
        state.rule_tags = definitions
    return total
