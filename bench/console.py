"""The operations console at scale: server time of the home page, the member list and the member 360° page.

python bench/console.py --scale full                 # 1,000,000 members, 5,000,000 orders
python bench/console.py --scale full --members 200000  # what fits in a few minutes on a shared machine
python bench/console.py --scale smoke                # 2,000 members; what CI runs

Members are loaded with COPY, their orders, points entries, coupons and messages set-based (INSERT ... SELECT),
plus one member with a long history (thousands of orders, points entries, coupons and messages). Each page is
requested through Django's test client in process as an HQ operator, so the time is the server's whole request
(middleware, session, permissions, queries, template). Baseline in the same run: the same reads as raw SQL on
one cursor (what the page cannot go below), and the ratio. Target: median under 300 ms per page.
"""

from harness import Report, copy_rows, latency_ms, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"members": 2_000, "requests": 10, "heavy_orders": 300},
    "full": {"members": 1_000_000, "requests": 60, "heavy_orders": 5_000},
}


def _extra(parser) -> None:
    parser.add_argument("--members", type=int, default=None, help="members to generate (default: the scale's)")


args = parse_args(__doc__, _extra)
setup_django("retail_bench_console")

import random  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.core.dates import last_complete_month  # noqa: E402
from apps.insights.models import KpiMonth  # noqa: E402
from apps.loyalty.models import CouponTemplate  # noqa: E402
from apps.members.codes import luhn_check_digit  # noqa: E402
from apps.members.models import Member, Tier  # noqa: E402
from apps.stores.models import Channel, Staff, Store  # noqa: E402
from apps.stores.services import staff_create  # noqa: E402

size = SCALES[args.scale]
n = args.members or size["members"]
orders_per_member = 5
report = Report(f"console, {n:,} members, {n * orders_per_member:,} orders ({args.scale})")
rng = random.Random(21)
now = timezone.now()

truncate(
    "campaigns_outboxmessage",
    "orders_refundline",
    "orders_refund",
    "orders_orderline",
    "orders_order",
    "loyalty_coupon",
    "loyalty_coupontemplate",
    "loyalty_pointsentry",
    "loyalty_pointslot",
    "members_tierchange",
    "members_memberspendday",
    "members_identity",
    "members_consent",
    "members_consentevent",
    "members_membermerge",
    "members_member",
    "members_tier",
    "insights_kpimonth",
)
Staff.objects.filter(code__startswith="BENCH-").delete()
get_user_model().objects.filter(username__startswith="bench-hq").delete()

# -- stores, tiers, channels, an HQ operator ---------------------------------------------------------------
Store.objects.bulk_create(
    [Store(code=f"B{i:03d}", name=f"Bench store {i}", lat=Decimal("31.2"), lng=Decimal("121.4")) for i in range(200)],
    ignore_conflicts=True,
)
store_ids = list(Store.objects.filter(code__startswith="B").order_by("code").values_list("pk", flat=True))
for code, rank, spend in (("silver", 1, 0), ("gold", 2, 3000), ("platinum", 3, 10000), ("diamond", 4, 30000)):
    Tier.objects.create(code=code, name=code.title(), rank=rank, min_annual_spend=Decimal(spend))
tier_ids = list(Tier.objects.order_by("rank").values_list("pk", flat=True))
pos, _ = Channel.objects.get_or_create(code="pos", defaults={"name": "Store POS", "kind": "pos"})
mall, _ = Channel.objects.get_or_create(code="mall", defaults={"name": "Mall", "kind": "mall"})
operator = staff_create(
    code="BENCH-HQ", name="Bench operator", role="hq_operator", username="bench-hq", password="bench-pass-2026"
)

# -- members (COPY), then orders, points entries, coupons, messages (INSERT ... SELECT) ----------------------
with timer() as elapsed:
    copy_rows(
        "members_member",
        [
            "code",
            "phone",
            "name",
            "joined_at",
            "join_store_id",
            "tier_id",
            "tier_since",
            "status",
            "points_balance",
            "created_at",
        ],
        (
            (
                str(10**10 + i) + luhn_check_digit(str(10**10 + i)),
                f"+86138{i:08d}",
                f"Member {i}",
                now - timedelta(days=rng.randrange(1, 1500), seconds=rng.randrange(86400)),
                store_ids[i % len(store_ids)],
                tier_ids[min(3, int(rng.expovariate(1.2)))],
                now - timedelta(days=30),
                "active",
                500,
                now,
            )
            for i in range(n)
        ),
    )
load_seconds = elapsed()
heavy = Member.objects.order_by("pk").first()
template = CouponTemplate.objects.create(code="bench10", name="10 off", kind="amount", value=10, valid_days=90)
with timer() as elapsed, connection.cursor() as cursor:
    cursor.execute(
        f"""
        INSERT INTO orders_order (number, channel_id, external_id, fingerprint, store_id, member_id, guide_id,
            credited_store_id, credited_guide_id, is_online, status, fulfilment, is_fulfilled, delivery_address,
            placed_at, is_paid, payment_method, subtotal, discount_total, total, refunded_total, points_earned,
            coupons_applied, is_historic, created_at)
        SELECT 'BO' || m.id || '-' || k, CASE WHEN k %% 3 = 0 THEN %(mall)s ELSE %(pos)s END,
               'bench-' || m.id || '-' || k, '', m.join_store_id, m.id, NULL, m.join_store_id, NULL, k %% 3 = 0,
               'completed', 'in_store', true, '',
               now() - ((m.id * 7 + k * 53) %% 700) * interval '1 day' - interval '1 hour', true, 'counter',
               99 + k, 0, 99 + k, 0, 99, '[]'::jsonb, true, now()
        FROM members_member m CROSS JOIN generate_series(1, {orders_per_member}) k
        """,
        {"pos": pos.pk, "mall": mall.pk},
    )
    cursor.execute(
        "INSERT INTO loyalty_pointsentry (member_id, kind, points, balance_after, reference, idempotency_key, reason, "
        "shortfall, created_at) SELECT m.id, 'earn', 250, 250 * k, 'BO' || m.id || '-' || k, "
        "'bench-earn-' || m.id || '-' || k, '', 0, now() - k * interval '30 days' "
        "FROM members_member m CROSS JOIN generate_series(1, 2) k"
    )
    cursor.execute(
        "INSERT INTO loyalty_coupon (code, template_id, member_id, status, issued_at, valid_from, expires_at, "
        "redeemed_order) SELECT 'BC' || m.id, %s, m.id, 'issued', now(), now() - interval '1 day', "
        "now() + interval '60 days', '' FROM members_member m",
        [template.pk],
    )
    cursor.execute(
        "INSERT INTO members_memberspendday (member_id, day, amount) "
        "SELECT m.id, (now() - (m.id % 300) * interval '1 day')::date, 100 + m.id % 900 FROM members_member m"
    )
    # One message for every tenth member, and a long history for one member.
    outbox_columns = (
        "touch_key, member_id, kind, recipient, sender_userid, template_id, payload, status, reason, attempts, "
        "next_attempt_at, claimed_by, msgid, last_error, created_at, sent_at"
    )
    cursor.execute(
        f"INSERT INTO campaigns_outboxmessage ({outbox_columns}) SELECT 'bench:' || m.id, m.id, 'template', "
        "'o' || m.id, '', 'TPL', '{}'::jsonb, 'delivered', '', 1, now(), '', '', '', now() - interval '2 days', "
        "now() - interval '2 days' FROM members_member m WHERE m.id % 10 = 0"
    )
    h = heavy.pk
    cursor.execute(
        f"""
        INSERT INTO orders_order (number, channel_id, external_id, fingerprint, store_id, member_id,
            credited_store_id, is_online, status, fulfilment, is_fulfilled, delivery_address, placed_at, is_paid,
            payment_method, subtotal, discount_total, total, refunded_total, points_earned, coupons_applied,
            is_historic, created_at)
        SELECT 'BH' || k, %(pos)s, 'bench-heavy-' || k, '', %(store)s, {h}, %(store)s, false, 'completed',
               'in_store', true, '', now() - (k %% 1000) * interval '1 day' - k * interval '1 second', true,
               'counter', 50 + k %% 300, 0, 50 + k %% 300, 0, 50, '[]'::jsonb, true, now()
        FROM generate_series(1, %(n)s) k
        """,
        {"pos": pos.pk, "store": heavy.join_store_id, "n": size["heavy_orders"]},
    )
    cursor.execute(
        "INSERT INTO loyalty_pointsentry (member_id, kind, points, balance_after, reference, idempotency_key, "
        "reason, shortfall, created_at) SELECT %s, CASE WHEN k %% 10 = 0 THEN 'adjust' ELSE 'earn' END, 10, "
        "500 + 10 * k, 'BH' || k, 'bench-heavy-' || k, 'bench', 0, now() - k * interval '1 hour' "
        "FROM generate_series(1, %s) k",
        [h, size["heavy_orders"]],
    )
    cursor.execute(
        "INSERT INTO loyalty_coupon (code, template_id, member_id, status, issued_at, valid_from, expires_at, "
        "redeemed_order) SELECT 'BHC' || k, %s, %s, 'issued', now() - k * interval '1 hour', now() - interval "
        "'1 day', now() + interval '60 days', '' FROM generate_series(1, %s) k",
        [template.pk, h, size["heavy_orders"] // 10],
    )
    cursor.execute(
        f"INSERT INTO campaigns_outboxmessage ({outbox_columns}) SELECT 'bench-heavy:' || k, %s, 'template', "
        "'oh', '', 'TPL', '{}'::jsonb, 'delivered', '', 1, now(), '', '', '', now() - k * interval '1 hour', "
        "now() - k * interval '1 hour' FROM generate_series(1, %s) k",
        [h, size["heavy_orders"] // 10],
    )
history_seconds = elapsed()
# The home reads the stored KPI rows (refreshed hourly elsewhere): thirteen months of them.
month = last_complete_month()
months = [month]
for _ in range(12):
    months.append(last_complete_month(months[-1]))
KpiMonth.objects.bulk_create(
    KpiMonth(month=m, orders=n * 2, member_orders=n, sales=n * 200, member_sales=n * 120, new_member_sales=n * 10,
             active_members=n // 3, returning_members=n // 4, active_12m=n // 2, orders_12m=n * 3, sales_12m=n * 300,
             repeat_12m=n // 5, base_prev_12m=n // 2, churned=n // 50, members_total=n, members_reachable=n // 4,
             recruited=n // 40, computed_at=now)
    for m in months
)  # fmt: skip
vacuum_analyze(
    "members_member", "orders_order", "loyalty_pointsentry", "loyalty_coupon", "members_memberspendday",
    "campaigns_outboxmessage", "insights_kpimonth",
)  # fmt: skip
orders_total = n * orders_per_member + size["heavy_orders"]
report.figure(f"COPY {n:,} members", load_seconds, "s")
report.figure(f"{orders_total:,} orders, points, coupons, messages (INSERT ... SELECT)", history_seconds, "s")

# -- raw SQL baselines: the same reads on one cursor ----------------------------------------------------------
MEMBER_360_SQL = [
    "SELECT m.*, t.name, s.name, c.name FROM members_member m LEFT JOIN members_tier t ON t.id = m.tier_id "
    "LEFT JOIN stores_store s ON s.id = m.join_store_id LEFT JOIN stores_channel c ON c.id = m.join_channel_id "
    "WHERE m.id = %(m)s",
    "SELECT sum(amount) FROM members_memberspendday WHERE member_id = %(m)s AND day > now()::date - 365",
    "SELECT * FROM members_tier WHERE rank > 1 ORDER BY rank LIMIT 1",
    "SELECT o.*, c.name, s.name FROM orders_order o JOIN stores_channel c ON c.id = o.channel_id "
    "LEFT JOIN stores_store s ON s.id = o.store_id WHERE o.member_id = %(m)s ORDER BY o.placed_at DESC LIMIT 21",
    "SELECT * FROM loyalty_pointsentry WHERE member_id = %(m)s ORDER BY created_at DESC, id DESC LIMIT 20",
    "SELECT * FROM loyalty_coupon c JOIN loyalty_coupontemplate t ON t.id = c.template_id "
    "WHERE c.member_id = %(m)s ORDER BY c.issued_at DESC, c.id DESC LIMIT 20",
    "SELECT * FROM insights_memberprofile WHERE member_id = %(m)s",
    "SELECT * FROM insights_membertag mt JOIN insights_tag t ON t.id = mt.tag_id WHERE mt.member_id = %(m)s",
    "SELECT * FROM campaigns_outboxmessage WHERE member_id = %(m)s ORDER BY id DESC LIMIT 20",
    "SELECT * FROM members_identity WHERE member_id = %(m)s",
    "SELECT * FROM members_consent WHERE member_id = %(m)s",
    "SELECT * FROM members_tierchange WHERE member_id = %(m)s ORDER BY changed_at DESC LIMIT 20",
    "SELECT * FROM members_membermerge WHERE survivor_id = %(m)s OR merged_id = %(m)s LIMIT 20",
    "SELECT * FROM loyalty_pointsentry WHERE member_id = %(m)s AND kind = 'adjust' "
    "ORDER BY created_at DESC, id DESC LIMIT 20",
]
LIST_SQL = [
    "SELECT reltuples FROM pg_class WHERE oid = 'members_member'::regclass",
    "SELECT m.*, t.name, s.name FROM members_member m LEFT JOIN members_tier t ON t.id = m.tier_id "
    "LEFT JOIN stores_store s ON s.id = m.join_store_id ORDER BY m.joined_at DESC, m.id DESC LIMIT 50",
]
HOME_SQL = [
    "SELECT * FROM insights_kpimonth WHERE month IN (%(m1)s, %(m2)s) AND store_id IS NULL AND channel_id IS NULL",
    "SELECT count(*), sum(total - refunded_total) FROM orders_order WHERE placed_at >= %(d)s",
    "SELECT count(*) FROM members_member WHERE joined_at >= %(d)s",
    "SELECT count(*) FROM (SELECT id FROM campaigns_outboxmessage WHERE status = 'pending' "
    "AND next_attempt_at <= now() LIMIT 10000) x",
]


def raw(statements: list[str], params: dict) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
            cursor.fetchall()


# -- the pages ------------------------------------------------------------------------------------------------
client = Client()
client.force_login(operator.user)
client.get("/admin/")
sample = list(Member.objects.order_by("?").values_list("pk", "phone")[: size["requests"] + 20])
pick = lambda i: sample[i % len(sample)]  # noqa: E731
day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
home_params = {"m1": months[0], "m2": months[1], "d": day}


def member_360(pk: int):
    return client.get(f"/admin/members/member/{pk}/360/")


pages = [
    ("home (dashboard and grouped navigation)", lambda i: client.get("/admin/"), HOME_SQL, lambda i: home_params),
    ("member list, first page", lambda i: client.get("/admin/members/member/"), LIST_SQL, lambda i: {}),
    (
        "member list, search by phone",
        lambda i: client.get("/admin/members/member/", {"q": pick(i)[1][3:]}),
        ["SELECT * FROM members_member WHERE phone = %(p)s"],
        lambda i: {"p": pick(i)[1]},
    ),
    ("member 360°, a typical member", lambda i: member_360(pick(i)[0]), MEMBER_360_SQL, lambda i: {"m": pick(i)[0]}),
    (
        f"member 360°, a member with {size['heavy_orders']:,} orders",
        lambda i: member_360(heavy.pk),
        MEMBER_360_SQL,
        lambda i: {"m": heavy.pk},
    ),
    ("KPI dashboard (last complete month)", lambda i: client.get("/admin/insights/kpimonth/"), HOME_SQL[:1],
     lambda i: home_params),
]  # fmt: skip
for name, call, baseline, params in pages:
    probe = call(0)
    assert probe.status_code == 200, (name, probe.status_code, probe.content[:300])
    count = size["requests"]
    median, p95 = latency_ms(call, count, warmup=min(5, count // 2))
    raw_median, _raw_p95 = latency_ms(lambda i, b=baseline, p=params: raw(b, p(i)), count, warmup=3)
    report.figure(f"{name}, median (p95 {p95:.1f} ms)", median, "ms", "< 300 ms", median < 300)
    report.figure(f"  raw SQL of the same reads; page / raw = {median / max(raw_median, 0.001):.1f}x", raw_median, "ms")
report.print()
