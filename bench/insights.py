"""Tags, segments and KPIs at scale: the nightly profile refresh against a bare SQL aggregate over the
same orders, the KPI aggregates, a segment count preview, the dashboard and the KPI API.

python bench/insights.py --scale full    # 1,000,000 members, 5,000,000 orders (data kept for reruns)
python bench/insights.py --scale smoke   # 2,000 members, 10,000 orders; what CI runs
"""

from datetime import datetime, time, timedelta

from harness import Report, latency_ms, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"members": 2_000, "orders": 10_000, "stores": 10, "guides": 5, "requests": 3},
    "full": {"members": 1_000_000, "orders": 5_000_000, "stores": 200, "guides": 100, "requests": 5},
}

args = parse_args(__doc__)
setup_django("retail_bench_insights")

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import DatabaseError, connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.insights.kpis import kpi_aggregates_refresh  # noqa: E402
from apps.insights.models import Segment, SegmentCondition, SegmentSnapshot, Tag  # noqa: E402
from apps.insights.profiles import member_profiles_refresh  # noqa: E402
from apps.insights.selectors import members_count, segment_specs  # noqa: E402
from apps.stores.services import api_key_create  # noqa: E402

size = SCALES[args.scale]
n_members, n_orders = size["members"], size["orders"]
report = Report(f"insights, {n_members:,} members, {n_orders:,} orders ({args.scale})")
_figure = report.figure


def _figure_now(name: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> None:
    """Record a figure and print it at once, so a long run shows its progress."""
    _figure(name, value, unit, target, ok)
    print("  ".join(report.rows[-1]), flush=True)


report.figure = _figure_now


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def _exec(cursor, sql: str, params=()) -> None:
    cursor.execute(sql, list(params))  # always with parameters, so %% means % everywhere


def generate() -> None:
    """Everything set-based in SQL (generate_series), a few minutes at full size."""
    truncate(
        "insights_segmentsnapshotmember", "insights_segmentsnapshot", "insights_segmentcondition", "insights_segment",
        "insights_membertag", "insights_tag_rule_categories", "insights_tag", "insights_memberprofile",
        "insights_salesday", "insights_membermonth", "insights_kpimonth", "insights_tiermonth",
        "insights_cohortmonth", "insights_peoplemonth", "insights_kpiwatermark",
        "orders_refundline", "orders_refund", "orders_orderline", "orders_order", "loyalty_pointsentry",
        "loyalty_pointslot", "members_memberspendday", "members_tierchange", "members_identity", "members_consent",
        "members_consentevent", "members_membermerge", "catalog_stockmovement", "catalog_stock", "catalog_tierprice",
        "catalog_pricechange", "catalog_sku", "catalog_product", "catalog_category", "members_member", "members_tier",
        "stores_apikey", "stores_staff_stores", "stores_staff", "stores_channel", "stores_store",
    )  # fmt: skip
    User = get_user_model()
    User.objects.filter(username__startswith="bench-guide-").delete()
    with connection.cursor() as c:
        # Generated rows are consistent by construction: skip the per-row foreign key triggers while loading.
        _exec(c, "SET session_replication_role = replica")
        _exec(
            c,
            "INSERT INTO stores_channel (code, name, kind, is_active) VALUES ('pos', 'POS', 'pos', true), "
            "('mall', 'Mall', 'mall', true), ('mini', 'Mini program', 'mini_program', true), "
            "('tmall', 'Tmall', 'platform', true), ('live', 'Live', 'live', true)",
        )
        _exec(
            c,
            "INSERT INTO stores_store (code, name, kind, address, city, timezone, is_active) "
            "SELECT 'S' || lpad(i::text, 4, '0'), 'Store ' || i, 'store', '', 'Shanghai', 'Asia/Shanghai', true "
            "FROM generate_series(1::bigint, %s::bigint) i",
            [size["stores"]],
        )
        _exec(
            c,
            "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, is_staff, "
            "is_active, date_joined) SELECT 'bench-guide-' || i, '!', false, '', '', '', false, true, now() "
            "FROM generate_series(1::bigint, %s::bigint) i",
            [size["guides"]],
        )
        _exec(
            c,
            "INSERT INTO stores_staff (user_id, code, name, role, is_active) SELECT id, 'G' || substr(username, 13), "
            "'Guide ' || substr(username, 13), 'guide', true FROM auth_user WHERE username LIKE 'bench-guide-%%'",
        )
        for code, rank, spend in (("silver", 1, 0), ("gold", 2, 3000), ("platinum", 3, 10000)):
            _exec(
                c,
                "INSERT INTO members_tier (code, name, rank, min_annual_spend, points_per_yuan, discount_percent, "
                "benefits) VALUES (%s, %s, %s, %s, 1, 0, '')",
                [code, code.title(), rank, spend],
            )
        _exec(
            c,
            "INSERT INTO catalog_category (code, name) "
            "SELECT 'cat' || i, 'Category ' || i FROM generate_series(1, 20) i",
        )
        _exec(
            c,
            "INSERT INTO catalog_product (code, name, brand, category_id, description, image_urls, created_at) "
            "SELECT 'P' || i, 'Product ' || i, 'Acme', (SELECT min(id) FROM catalog_category) + i %% 20, '', "
            "'[]', now() FROM generate_series(1, 200) i",
        )
        _exec(
            c,
            "INSERT INTO catalog_sku (code, product_id, name, attributes, is_active, created_at) "
            "SELECT 'K' || i, (SELECT min(id) FROM catalog_product) + i %% 200, 'Sku ' || i, '{}', true, now() "
            "FROM generate_series(1, 1000) i",
        )
        # Members joined over four years; a third with a WeChat openid, half consenting.
        _exec(
            c,
            """
            INSERT INTO members_member (code, phone, name, birthday, joined_at, join_store_id, join_channel_id,
                recruited_by_id, tier_id, tier_since, status, points_balance, created_at)
            SELECT 'M' || lpad(i::text, 9, '0'), '+86138' || lpad(i::text, 8, '0'), 'Member ' || i,
                   CASE WHEN i %% 5 > 0 THEN date '1960-01-01' + ((i * 7919) %% 16000)::int END,
                   now() - ((i * 104729) %% 1460) * interval '1 day' - (i %% 86400) * interval '1 second',
                   st.lo + (i * 31) %% st.n, ch.lo + i %% 5,
                   CASE WHEN i %% 4 = 0 THEN g.lo + i %% g.n END,
                   t.lo + (i %% 10 = 0)::int + (i %% 50 = 0)::int, now(), 'active', 0, now()
            FROM generate_series(1::bigint, %s::bigint) i,
                 (SELECT min(id) lo, count(*) n FROM stores_store) st,
                 (SELECT min(id) lo FROM stores_channel) ch,
                 (SELECT min(id) lo, count(*) n FROM stores_staff) g,
                 (SELECT min(id) lo FROM members_tier) t
            """,
            [n_members],
        )
        _exec(
            c,
            "INSERT INTO members_identity (member_id, kind, value, created_at) "
            "SELECT id, 'wechat_openid', 'o' || code, now() FROM members_member WHERE id %% 3 <> 0",
        )
        _exec(
            c,
            "INSERT INTO members_consent (member_id, channel, granted, changed_at, source) "
            "SELECT id, 'wechat', id %% 2 = 0, now(), '' FROM members_member",
        )
        # Orders over three years: 85% members (skewed: some buy often), 15% walk-ins; 4% partly refunded,
        # 1% refunded in full; 1 or 2 lines each.
        _exec(
            c,
            """
            INSERT INTO orders_order (number, channel_id, external_id, fingerprint, store_id, member_id, guide_id,
                credited_store_id, credited_guide_id, is_online, status, fulfilment, is_fulfilled,
                delivery_address, placed_at, is_paid, payment_method, subtotal, discount_total, total,
                refunded_total, points_earned, coupons_applied, is_historic, created_at)
            SELECT 'B' || lpad(i::text, 10, '0'), ch.lo + (i %% 5), 'x' || i, '',
                   st.lo + (i * 17) %% st.n,
                   CASE WHEN i %% 20 >= 3 THEN mm.lo + abs(hashint4(i::int)::bigint) %% (CASE WHEN i %% 2 = 0 THEN mm.n
                        ELSE greatest(mm.n / 5, 1) END) END,
                   NULL, st.lo + (i * 17) %% st.n, CASE WHEN i %% 9 = 0 THEN g.lo + i %% g.n END,
                   i %% 5 > 0, 'completed', 'in_store', true, '',
                   now() - ((i * 7 + (i * 2654435761) %% 1095000) %% 1095000) * interval '1 day' / 1000.0,
                   true, '', amt, 0, amt,
                   CASE WHEN i %% 100 = 0 THEN amt WHEN i %% 25 = 0 THEN round(amt / 3, 2) ELSE 0 END,
                   0, '[]', true, now() - interval '1 hour'
            FROM (SELECT i, round((20 + (i * 48271) %% 980 + ((i * 16807) %% 100) / 100.0)::numeric, 2) AS amt
                  FROM generate_series(1::bigint, %s::bigint) i) s,
                 (SELECT min(id) lo, count(*) n FROM stores_store) st,
                 (SELECT min(id) lo FROM stores_channel) ch,
                 (SELECT min(id) lo, count(*) n FROM stores_staff) g,
                 (SELECT min(id) lo, count(*) n FROM members_member) mm
            """,
            [n_orders],
        )
        _exec(
            c,
            """
            INSERT INTO orders_orderline (order_id, position, sku_id, quantity, unit_price, discount, total,
                refunded_quantity, refunded_amount)
            SELECT o.id, p, k.lo + (o.id * 7 + p * 131) %% 1000, 1, o.total / (1 + (o.id %% 2)), 0,
                   o.total / (1 + (o.id %% 2)), (o.refunded_total = o.total)::int,
                   CASE WHEN o.refunded_total = o.total THEN o.total / (1 + (o.id %% 2)) ELSE 0 END
            FROM orders_order o CROSS JOIN generate_series(1, 2) p, (SELECT min(id) lo FROM catalog_sku) k
            WHERE p = 1 OR o.id %% 2 = 1
            """,
        )
        _exec(c, "SET session_replication_role = DEFAULT")
    vacuum_analyze(
        "members_member", "members_identity", "members_consent", "orders_order", "orders_orderline", "catalog_sku",
        "catalog_product",
    )  # fmt: skip


def drop_bench_orders() -> None:
    """Take out what a run adds to the kept data set: the hourly orders, a night's orders and its refunds."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders_order WHERE number LIKE 'H%%' AND is_historic = false", [])
        cursor.execute(
            "UPDATE orders_order SET refunded_total = 0 WHERE id IN "
            "(SELECT order_id FROM orders_refund WHERE external_id = 'bench-night')",
            [],
        )
        cursor.execute("DELETE FROM orders_refund WHERE external_id = 'bench-night'", [])
        cursor.execute(
            "DELETE FROM orders_orderline WHERE order_id IN "
            "(SELECT id FROM orders_order WHERE number LIKE 'N%%' AND is_historic = false)",
            [],
        )
        cursor.execute("DELETE FROM orders_order WHERE number LIKE 'N%%' AND is_historic = false", [])


def add_a_days_trade(day, n: int) -> None:
    """A day's new orders (placed on ``day``, one line each) and refunds of some of the last month's orders."""
    with connection.cursor() as cursor:
        _exec(
            cursor,
            """
            INSERT INTO orders_order (number, channel_id, external_id, fingerprint, store_id, member_id,
                credited_store_id, is_online, status, fulfilment, is_fulfilled, delivery_address, placed_at, is_paid,
                payment_method, subtotal, discount_total, total, refunded_total, points_earned, coupons_applied,
                is_historic, created_at)
            SELECT 'N' || i, ch.lo + i %% 5, 'n' || i, '', st.lo + (i * 17) %% st.n,
                   CASE WHEN i %% 20 >= 3 THEN mm.lo + abs(hashint4(i::int + 7)::bigint) %% mm.n END,
                   st.lo + (i * 17) %% st.n, i %% 5 > 0, 'completed', 'in_store', true, '',
                   %s::timestamptz + (i * 40) * interval '1 second', true, '', amt, 0, amt, 0, 0, '[]', false, now()
            FROM (SELECT i, (20 + (i * 48271) %% 980)::numeric AS amt FROM generate_series(1, %s) i) s,
                 (SELECT min(id) lo, count(*) n FROM stores_store) st,
                 (SELECT min(id) lo FROM stores_channel) ch,
                 (SELECT min(id) lo, count(*) n FROM members_member) mm
            """,
            [datetime.combine(day, time(8, 0), tzinfo=timezone.get_current_timezone()), n],
        )
        _exec(
            cursor,
            "INSERT INTO orders_orderline (order_id, position, sku_id, quantity, unit_price, discount, total, "
            "refunded_quantity, refunded_amount) SELECT o.id, 1, k.lo + (o.id * 7) %% 1000, 1, o.total, 0, o.total, "
            "0, 0 FROM orders_order o, (SELECT min(id) lo FROM catalog_sku) k "
            "WHERE o.number LIKE 'N%%' AND o.is_historic = false",
        )
        since = datetime.combine(day - timedelta(days=30), time.min, tzinfo=timezone.get_current_timezone())
        _exec(
            cursor,
            """
            WITH picked AS (
                SELECT id, total FROM orders_order
                WHERE placed_at >= %s AND member_id IS NOT NULL AND refunded_total = 0 AND total > 0
                ORDER BY id LIMIT %s
            ), refunded AS (
                INSERT INTO orders_refund (order_id, external_id, fingerprint, refund_total, points_reversed,
                    points_shortfall, created_at)
                SELECT id, 'bench-night', '', round(total / 3, 2), 0, 0, now() FROM picked RETURNING order_id
            )
            UPDATE orders_order o SET refunded_total = round(o.total / 3, 2) FROM picked WHERE o.id = picked.id
            """,
            [since, max(n // 20, 1)],
        )


drop_bench_orders()
have = scalar("SELECT count(*) FROM members_member"), scalar("SELECT count(*) FROM orders_order")
if have != (n_members, n_orders):
    with timer() as elapsed:
        generate()
    report.figure("generating the data set (SQL generate_series)", elapsed(), "s")
lines = scalar("SELECT count(*) FROM orders_orderline")
print(f"data: {n_members:,} members, {n_orders:,} orders, {lines:,} order lines", flush=True)

# -- the nightly refresh against a bare aggregate over the same orders ----------------------------------------
BARE = """
    SELECT count(*), sum(n) FROM (
        SELECT member_id, count(*) AS n, sum(total - refunded_total), min(placed_at), max(placed_at)
        FROM orders_order WHERE member_id IS NOT NULL GROUP BY member_id
    ) x
"""
scalar(BARE)  # warm the cache the same way for both
with timer() as elapsed:
    scalar(BARE)
bare = elapsed()
report.figure("bare SQL aggregate of orders per member (baseline)", bare, "s")

SegmentSnapshot.objects.filter(segment__code="bench-lapsing-vip").delete()  # a rerun on kept data starts clean
Segment.objects.filter(code="bench-lapsing-vip").delete()
Tag.objects.filter(code="bench-razor-cream").delete()
razors = Tag.objects.create(code="bench-razor-cream", name="Razor and cream", kind="rule", rule="bought_together")
with connection.cursor() as cursor:
    # A two-line order's lines are 11 categories apart (see generate()): these two are bought together, by
    # about one member in seven (the pair that starts at the first category falls on orders without a member).
    cursor.execute("SELECT id FROM catalog_category ORDER BY id")
    categories = [row[0] for row in cursor.fetchall()]
    razors.rule_categories.set([categories[2], categories[13]])


def settle() -> None:
    """Between timed refreshes: what autovacuum would have done, then a checkpoint, so the deferred writes of
    the step before are not paid inside the next measurement (a night's run follows a quiet evening)."""
    vacuum_analyze("insights_memberprofile", "insights_membertag")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:  # a role without pg_checkpoint: measure without it
        pass


# The target is for recomputing the computed tags: the weekly full recompute (every member's orders
# read again) and the nightly run. The very first run, which creates every profile, is shown for reference.
truncate("insights_memberprofile", "insights_profilerefresh")
settle()
with timer() as elapsed:
    result = member_profiles_refresh(full=True)
first = elapsed()
label = (
    f"profile refresh, first run ever (one-off: creates {result['profiles']:,} profiles, "
    f"{result['rule_tags']:,} rule tags)"
)
report.figure(label, first, "s")
settle()
with timer() as elapsed:
    result = member_profiles_refresh(full=True)
weekly = elapsed()
label = f"profile refresh, weekly full recompute (every member; {result['changed']:,} rows written)"
report.figure(label, weekly, "s", "< 20 s", weekly < 20)
report.figure("profile refresh (weekly full) / bare aggregate", weekly / bare, "x")
# A night: the next day's orders (a day's share of the data set) and refunds arrive, then tomorrow's refresh runs.
tomorrow = timezone.localdate() + timedelta(days=1)
day_orders = max(n_orders // 1095, 10)
settle()
add_a_days_trade(tomorrow, day_orders)  # no VACUUM or ANALYZE after it: a night would not have one either
with timer() as elapsed:
    result = member_profiles_refresh(today=tomorrow)
refresh = elapsed()
assert not result["full"]
label = f"profile refresh, nightly for the next day ({day_orders:,} new orders; {result['changed']:,} rows written)"
report.figure(label, refresh, "s", "< 20 s", refresh < 20)
report.figure("profile refresh (nightly) / bare aggregate", refresh / bare, "x", "about 3x", refresh / bare < 3.5)
drop_bench_orders()
vacuum_analyze("insights_memberprofile", "insights_membertag")

# -- KPI aggregates: the first full build, then an hour's new orders ------------------------------------------
with timer() as elapsed:
    built = kpi_aggregates_refresh(full=True)
report.figure(f"KPI aggregates, full build ({built['kpi_months']} months)", elapsed(), "s")
with connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO orders_order (number, channel_id, external_id, fingerprint, store_id, member_id, "
        "credited_store_id, is_online, status, fulfilment, is_fulfilled, delivery_address, placed_at, is_paid, "
        "payment_method, subtotal, discount_total, total, refunded_total, points_earned, coupons_applied, "
        "is_historic, created_at) "
        "SELECT 'H' || i, (SELECT min(id) FROM stores_channel), 'h' || i, '', (SELECT min(id) FROM stores_store), "
        "(SELECT min(id) FROM members_member) + i, (SELECT min(id) FROM stores_store), false, 'completed', "
        "'in_store', true, '', now() - interval '1 minute', true, '', 50, 0, 50, 0, 0, '[]', false, now() "
        "FROM generate_series(1, 1000) i"
    )
with timer() as elapsed:
    kpi_aggregates_refresh()
report.figure("KPI aggregates, hourly run after 1,000 new orders", elapsed(), "s")
vacuum_analyze("insights_salesday", "insights_membermonth", "insights_kpimonth")

# -- a segment count preview ----------------------------------------------------------------------------------
segment = Segment.objects.create(code="bench-lapsing-vip", name="Lapsing reachable spenders")
for group, kind, value, negate in (
    (1, "spend_12m_at_least", "1000", False),
    (1, "lifecycle", "at_risk", False),
    (1, "has_wechat", "", False),
    (1, "consent", "wechat", False),
    (2, "tag", "bench-razor-cream", False),
    (2, "tier", "gold", False),
    (2, "purchased_within", "30", True),
):
    SegmentCondition.objects.create(segment=segment, group=group, kind=kind, value=value, negate=negate)
counts = []
median, p95 = latency_ms(
    lambda i: counts.append(members_count(specs=segment_specs(segment=segment))), size["requests"], warmup=1
)
report.figure(f"segment count preview ({counts[-1]:,} members), median (p95 {p95:.0f} ms)", median, "ms",
              "< 1000 ms", median < 1000)  # fmt: skip

# -- the dashboard and the KPI API ----------------------------------------------------------------------------
User = get_user_model()
admin_user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
    "bench-admin", "b@example.com", "bench-pass-2026"
)
console = Client()
console.force_login(admin_user)
month = timezone.localdate().strftime("%Y-%m")
assert console.get("/admin/insights/kpimonth/").status_code == 200
median, p95 = latency_ms(lambda i: console.get("/admin/insights/kpimonth/", {"month": month}), size["requests"], 2)
report.figure(f"KPI dashboard page, median (p95 {p95:.0f} ms)", median, "ms", "< 1000 ms", median < 1000)
median, p95 = latency_ms(
    lambda i: console.get("/admin/insights/segment/preview/", {"segment": segment.pk}), size["requests"], 1
)
report.figure(f"admin segment preview endpoint, median (p95 {p95:.0f} ms)", median, "ms", "< 1000 ms", median < 1000)
_key, raw = api_key_create(channel_code="mall")
api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
median, p95 = latency_ms(lambda i: api.get("/api/v1/kpis", {"month": month}), size["requests"] * 5, 3)
report.figure(f"GET /api/v1/kpis, median (p95 {p95:.1f} ms)", median, "ms", "< 1000 ms", median < 1000)
code = scalar("SELECT code FROM members_member ORDER BY id LIMIT 1 OFFSET 7")
median, p95 = latency_ms(lambda i: api.get(f"/api/v1/members/{code}/profile"), size["requests"] * 5, 3)
report.figure(f"GET /api/v1/members/<code>/profile, median (p95 {p95:.1f} ms)", median, "ms")
with transaction.atomic():
    from apps.insights.services import segment_snapshot_take

    with timer() as elapsed:
        snap = segment_snapshot_take(segment=segment)
report.figure(f"segment snapshot ({snap.member_count:,} members)", elapsed(), "s")
report.print()
