"""The nightly set-based refresh of every member's computed measures and rule tags.

One statement rewrites ``MemberProfile`` for all members from the orders (one scan of the orders, one
of the last year's order lines for the favourite category), a few more keep rule tags in step. Nothing
loops over members in Python. PostgreSQL only (the SQLite demo skips the refresh).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.catalog.models import Category, Product, Sku
from apps.members.models import Member
from apps.orders.models import Order, OrderLine

from .models import InsightsConfig, MemberProfile, MemberTag, Tag

# An order counts as a purchase unless it was refunded in full (a free order still counts).
COUNTED = "(o.total = 0 OR o.refunded_total < o.total)"

PROFILE_COLUMNS = (
    "member_id, computed_on, first_purchase_on, last_purchase_on, orders, purchase_days, net_spend, spend_12m, "
    "frequency, recency, t, monetary_value, recency_score, frequency_score, monetary_score, rfm_segment, "
    "lifecycle_stage, average_order_value, power_band, channel_habit, favourite_category_id, favourite_store_id, "
    "birthday_month, computed_at"
)

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


def insights_config() -> InsightsConfig:
    config, _ = InsightsConfig.objects.get_or_create(pk=1)
    return config


def _tables() -> dict[str, str]:
    return {
        "member": Member._meta.db_table,
        "order": Order._meta.db_table,
        "line": OrderLine._meta.db_table,
        "sku": Sku._meta.db_table,
        "product": Product._meta.db_table,
        "profile": MemberProfile._meta.db_table,
        "member_tag": MemberTag._meta.db_table,
        "category": Category._meta.db_table,
    }


def member_profiles_refresh(*, today: date | None = None) -> dict[str, int]:
    """Rewrite every active member's computed measures as of ``today`` (default: the local date)."""
    if connection.vendor != "postgresql":
        return {"profiles": 0}
    today = today or timezone.localdate()
    tz = settings.TIME_ZONE
    until = datetime.combine(today + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())
    config = insights_config()
    t = _tables()
    params = {
        "tz": tz,
        "until": until,
        "today": today,
        "year_ago": today - timedelta(days=365),
        "lines_since": datetime.combine(today - timedelta(days=364), time.min, tzinfo=timezone.get_current_timezone()),
        "at_risk": config.at_risk_days,
        "dormant": config.dormant_days,
        "churned": config.churned_days,
        "medium": config.power_medium_from,
        "high": config.power_high_from,
        "premium": config.power_premium_from,
        "now": timezone.now(),
    }
    sql = f"""
    WITH member_orders AS (
        SELECT o.member_id, (o.placed_at AT TIME ZONE %(tz)s)::date AS day, o.store_id, o.is_online,
               o.total - o.refunded_total AS amount
        FROM {t["order"]} o
        WHERE o.member_id IS NOT NULL AND o.placed_at < %(until)s AND {COUNTED}
    ), with_first AS (
        SELECT mo.*, min(day) OVER (PARTITION BY member_id) AS first_day FROM member_orders mo
    ), totals AS (
        -- one sort of the members' orders; everything per member is then one streaming pass
        SELECT member_id, min(day) AS first_day, max(day) AS last_day, count(DISTINCT day) AS days,
               count(*) AS orders, sum(amount) AS net,
               coalesce(sum(amount) FILTER (WHERE day > %(year_ago)s), 0) AS spend_12m,
               coalesce(sum(amount) FILTER (WHERE day > first_day), 0) AS repeat_amount,
               bool_or(is_online) AS online, bool_or(NOT is_online) AS offline,
               mode() WITHIN GROUP (ORDER BY store_id) AS store_id
        FROM with_first GROUP BY member_id
    ), scored AS (
        SELECT t.*,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY last_day)))::int AS r,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY days)))::int AS f,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY net)))::int AS m
        FROM totals t JOIN {t["member"]} mm ON mm.id = t.member_id AND mm.status = 'active'
    ), segmented AS (
        SELECT scored.*, {RFM_SEGMENT_SQL} AS segment FROM scored
    ), favourite_category AS (
        SELECT o.member_id, mode() WITHIN GROUP (ORDER BY p.category_id) AS category_id
        FROM {t["order"]} o
        JOIN {t["line"]} l ON l.order_id = o.id
        JOIN {t["sku"]} s ON s.id = l.sku_id
        JOIN {t["product"]} p ON p.id = s.product_id
        WHERE o.member_id IS NOT NULL AND o.placed_at >= %(lines_since)s AND o.placed_at < %(until)s
          AND l.quantity > l.refunded_quantity
        GROUP BY o.member_id
    ), computed AS (
        SELECT m.id AS member_id, s.first_day, s.last_day, coalesce(s.orders, 0) AS orders,
               coalesce(s.days, 0) AS days, coalesce(s.net, 0) AS net, coalesce(s.spend_12m, 0) AS spend_12m,
               coalesce(s.days - 1, 0) AS frequency, coalesce(s.last_day - s.first_day, 0) AS recency,
               coalesce(%(today)s::date - s.first_day, 0) AS age,
               CASE WHEN s.days > 1 THEN round(s.repeat_amount / (s.days - 1), 2) ELSE 0 END AS monetary_value,
               s.r, s.f, s.m, coalesce(s.segment, '') AS segment,
               CASE WHEN s.orders > 0 THEN round(s.net / s.orders, 2) END AS aov,
               %(today)s::date - coalesce(s.last_day, (m.joined_at AT TIME ZONE %(tz)s)::date) AS idle_days,
               s.online, s.offline, s.store_id, m.birthday
        FROM {t["member"]} m LEFT JOIN segmented s ON s.member_id = m.id
        WHERE m.status = 'active'
    )
    INSERT INTO {t["profile"]} ({PROFILE_COLUMNS})
    SELECT c.member_id, %(today)s, c.first_day, c.last_day, c.orders, c.days, c.net, c.spend_12m,
           c.frequency, c.recency, greatest(c.age, 0), c.monetary_value, c.r, c.f, c.m,
           c.segment,
           CASE WHEN c.idle_days >= %(churned)s THEN 'churned'
                WHEN c.idle_days >= %(dormant)s THEN 'dormant'
                WHEN c.idle_days >= %(at_risk)s THEN 'at_risk'
                WHEN c.days <= 1 THEN 'new'
                ELSE 'active' END,
           c.aov,
           CASE WHEN c.aov IS NULL THEN '' WHEN c.aov >= %(premium)s THEN 'premium' WHEN c.aov >= %(high)s THEN 'high'
                WHEN c.aov >= %(medium)s THEN 'medium' ELSE 'low' END,
           CASE WHEN c.online AND c.offline THEN 'omnichannel' WHEN c.online THEN 'online_only'
                WHEN c.offline THEN 'in_store_only' ELSE '' END,
           fc.category_id, c.store_id, extract(month FROM c.birthday)::int, %(now)s
    FROM computed c
    LEFT JOIN favourite_category fc ON fc.member_id = c.member_id
    ON CONFLICT (member_id) DO UPDATE SET
        computed_on = excluded.computed_on, first_purchase_on = excluded.first_purchase_on,
        last_purchase_on = excluded.last_purchase_on, orders = excluded.orders,
        purchase_days = excluded.purchase_days, net_spend = excluded.net_spend, spend_12m = excluded.spend_12m,
        frequency = excluded.frequency, recency = excluded.recency, t = excluded.t,
        monetary_value = excluded.monetary_value, recency_score = excluded.recency_score,
        frequency_score = excluded.frequency_score, monetary_score = excluded.monetary_score,
        rfm_segment = excluded.rfm_segment, lifecycle_stage = excluded.lifecycle_stage,
        average_order_value = excluded.average_order_value, power_band = excluded.power_band,
        channel_habit = excluded.channel_habit, favourite_category_id = excluded.favourite_category_id,
        favourite_store_id = excluded.favourite_store_id, birthday_month = excluded.birthday_month,
        computed_at = excluded.computed_at
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # One pass over millions of orders: let the hash aggregates and the rank sorts stay in memory.
        cursor.execute("SET LOCAL work_mem = '768MB'")
        # Sorted grouping streams member by member; hashing 4 million (member, day) groups spills to disk.
        cursor.execute("SET LOCAL enable_hashagg = off")
        cursor.execute(sql, params)
        profiles = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {t['profile']} p USING {t['member']} m WHERE m.id = p.member_id AND m.status <> 'active'"
        )
        rule_tags = rule_tags_refresh(now=params["now"])
    return {"profiles": profiles, "rule_tags": rule_tags}


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


def rule_tags_refresh(*, now: datetime | None = None) -> int:
    """Recompute every rule tag's members (one statement per rule tag, whatever the number of members)."""
    now = now or timezone.now()
    t = _tables()
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for tag in Tag.objects.filter(kind=Tag.Kind.RULE).prefetch_related("rule_categories"):
            roots = len(tag.rule_categories.all())
            if tag.rule == Tag.Rule.BOUGHT_TOGETHER:
                if not roots:
                    continue
                matching = f"""
                    SELECT DISTINCT o.member_id FROM {t["order"]} o
                    JOIN {t["line"]} l ON l.order_id = o.id
                    JOIN {t["sku"]} s ON s.id = l.sku_id
                    JOIN {t["product"]} p ON p.id = s.product_id
                    JOIN ({_category_ids_sql(tag.pk)}) cat ON cat.id = p.category_id
                    WHERE o.member_id IS NOT NULL AND l.quantity > l.refunded_quantity
                    GROUP BY o.id, o.member_id HAVING count(DISTINCT cat.root_id) = {roots}
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
            cursor.execute(
                f"DELETE FROM {t['member_tag']} mt WHERE mt.tag_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM rule_tag_members r WHERE r.member_id = mt.member_id)",
                [tag.pk],
            )
            cursor.execute(
                f"INSERT INTO {t['member_tag']} (member_id, tag_id, assigned_at) "
                f"SELECT member_id, %s, %s FROM rule_tag_members ON CONFLICT (member_id, tag_id) DO NOTHING",
                [tag.pk, now],
            )
            cursor.execute("SELECT count(*) FROM rule_tag_members")
            total += cursor.fetchone()[0]
            cursor.execute("DROP TABLE rule_tag_members")
    return total
