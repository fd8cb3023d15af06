"""Store clerk pages and the member card at scale: server time of every page with a million members.

python bench/clerk_pages.py --scale full    # 1,000,000 members, 1,000,000 orders, a coupon and points each
python bench/clerk_pages.py --scale smoke   # 2,000 members; what CI runs

Members, orders, coupons, points lots and spend are loaded set-based (COPY and INSERT ... SELECT); each page
is then requested through Django's test client in process, so the time is the server's whole request
(middleware, session, queries, template) without the network. Target: median under 100 ms per page.
"""

from harness import Report, copy_rows, latency_ms, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"members": 2_000, "requests": 20, "writes": 10},
    "full": {"members": 1_000_000, "requests": 200, "writes": 100},
}

args = parse_args(__doc__)
setup_django("retail_bench_clerk")

import itertools  # noqa: E402
import random  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.catalog.models import Category, PriceChange, Product, Sku, Stock  # noqa: E402
from apps.frontdesk.card_links import card_link_make  # noqa: E402
from apps.loyalty.models import CouponTemplate  # noqa: E402
from apps.members.codes import luhn_check_digit  # noqa: E402
from apps.members.models import Member, Tier  # noqa: E402
from apps.orders.services import order_create  # noqa: E402
from apps.stores.models import Channel, Staff, Store  # noqa: E402
from apps.stores.services import staff_create  # noqa: E402

size = SCALES[args.scale]
n = size["members"]
report = Report(f"clerk pages, {n:,} members ({args.scale})")
rng = random.Random(9)
now = timezone.now()

truncate(
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
    "members_member",
    "members_tier",
    "catalog_stockmovement",
    "catalog_stock",
    "catalog_pricechange",
    "catalog_tierprice",
    "catalog_channellisting",
    "catalog_sku",
    "catalog_product",
    "catalog_category",
)
Staff.objects.filter(code__startswith="BENCH-").delete()
from django.contrib.auth import get_user_model  # noqa: E402

get_user_model().objects.filter(username__startswith="bench-clerk").delete()

# -- stores, tiers, channels, a clerk, a catalog with stock ----------------------------------------------
stores = [
    Store(code=f"B{i:03d}", name=f"Bench store {i}", lat=Decimal(f"{30 + i % 20 * 0.1:.6f}"), lng=Decimal("121.4"))
    for i in range(200)
]
Store.objects.bulk_create(stores, ignore_conflicts=True)
store_ids = list(Store.objects.filter(code__startswith="B").order_by("code").values_list("pk", flat=True))
home = Store.objects.get(code="B000")
for code, rank, spend in (("silver", 1, 0), ("gold", 2, 3000), ("platinum", 3, 10000), ("diamond", 4, 30000)):
    Tier.objects.create(code=code, name=code.title(), rank=rank, min_annual_spend=Decimal(spend))
tier_ids = list(Tier.objects.order_by("rank").values_list("pk", flat=True))
pos, _ = Channel.objects.get_or_create(code="pos", defaults={"name": "Store POS", "kind": "pos"})
mall, _ = Channel.objects.get_or_create(code="mall", defaults={"name": "Mall", "kind": "mall"})
clerk = staff_create(
    code="BENCH-C1", name="Bench clerk", role="clerk", username="bench-clerk", password="bench-pass-2026", stores=[home]
)
category = Category.objects.create(code="bench", name="Bench")
skus = []
for i in range(300):
    product = Product.objects.create(code=f"BP{i:04d}", name=f"Style {i}", category=category)
    skus.append(Sku.objects.create(code=f"BSKU{i:04d}", product=product, name=f"Item {i}", barcode=f"69{i:011d}"))
PriceChange.objects.bulk_create(
    PriceChange(sku=s, price=Decimal(50 + i % 200), valid_from=now - timedelta(days=30), source="seed")
    for i, s in enumerate(skus)
)
Stock.objects.bulk_create(Stock(store_id=sid, sku=s, on_hand=10_000) for sid in store_ids[:50] for s in skus[:50])

# -- a million members (COPY), then orders, coupons, points lots and spend set-based ----------------------
with timer() as elapsed:
    copy_rows(
        "members_member",
        [
            "code",
            "phone",
            "name",
            "joined_at",
            "join_store_id",
            "recruited_by_id",
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
                now - timedelta(days=rng.randrange(0, 1500), seconds=rng.randrange(86400)),
                home.pk if i % 20 == 0 else store_ids[i % len(store_ids)],  # a busy flagship: 5% of members
                clerk.pk if i % 140 == 0 else None,
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
template = CouponTemplate.objects.create(code="bench10", name="10 off", kind="amount", value=10, valid_days=90)
CouponTemplate.objects.create(code="benchmall", name="Mall cup", kind="amount", value=5, valid_days=90, points_cost=100)
with timer() as elapsed, connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO loyalty_coupon (code, template_id, member_id, status, issued_at, valid_from, expires_at, "
        "redeemed_order) SELECT 'BC' || m.id, %s, m.id, 'issued', now(), now() - interval '1 day', "
        "now() + interval '60 days', '' FROM members_member m",
        [template.pk],
    )
    cursor.execute(
        "INSERT INTO loyalty_pointslot (member_id, earned_month, expires_at, points, remaining) "
        "SELECT m.id, date_trunc('month', now())::date, now() + interval '40 days', 500, 500 FROM members_member m"
    )
    cursor.execute(
        "INSERT INTO members_memberspendday (member_id, day, amount) "
        "SELECT m.id, (now() - (m.id % 300) * interval '1 day')::date, 100 + m.id % 900 FROM members_member m"
    )
    # One order per member on average, most at the member's own store, a few today for "my day".
    cursor.execute(
        """
        INSERT INTO orders_order (number, channel_id, external_id, fingerprint, store_id, member_id, guide_id,
            credited_store_id, credited_guide_id, is_online, status, fulfilment, is_fulfilled, delivery_address,
            placed_at, is_paid, payment_method, subtotal, discount_total, total, refunded_total, points_earned,
            coupons_applied, is_historic, created_at)
        SELECT 'BO' || m.id, %(pos)s, 'bench-' || m.id, '', m.join_store_id, m.id,
               CASE WHEN m.recruited_by_id IS NOT NULL THEN m.recruited_by_id END, m.join_store_id,
               m.recruited_by_id, false, 'completed', 'in_store', true, '',
               now() - (m.id %% 400) * interval '1 day' - interval '1 hour', true, 'counter', 99, 0, 99, 0, 99,
               '[]'::jsonb, true, now()
        FROM members_member m
        """,
        {"pos": pos.pk},
    )
    cursor.execute("UPDATE members_member SET points_balance = 500")
orders_seconds = elapsed()
vacuum_analyze(
    "members_member", "loyalty_coupon", "loyalty_pointslot", "members_memberspendday", "orders_order", "catalog_stock"
)
report.figure(f"COPY {n:,} members", load_seconds, "s")
report.figure("coupons, points lots, spend days and orders (INSERT ... SELECT)", orders_seconds, "s")

# -- the pages -------------------------------------------------------------------------------------------
ours = list(
    Member.objects.filter(join_store=home).order_by("pk").values_list("code", "phone", "pk")[: size["requests"] + 50]
)
vouchers = [
    order_create(
        channel=mall, external_id=f"bench-v{i}", lines=[{"sku": skus[0].code, "quantity": 1}], fulfilment="voucher"
    )[0].verification_code
    for i in range(size["writes"] + 10)
]
client = Client()
client.force_login(clerk.user)
client.get("/store/")
anonymous = Client()
card_links = [card_link_make(member_code=code) for code, _phone, _pk in ours]
pick = lambda i: ours[i % len(ours)]  # noqa: E731
sale_items = f"{skus[0].code} x2\n{skus[1].barcode}"
pages = [
    ("home", lambda i: client.get("/store/"), size["requests"]),
    ("find a member by phone (POST, redirect)", lambda i: client.post("/store/members/find/", {"q": pick(i)[1]}), None),
    ("find a member by card code", lambda i: client.post("/store/members/find/", {"q": pick(i)[0]}), None),
    ("member page (tier, points, coupons, orders)", lambda i: client.get(f"/store/members/{pick(i)[0]}/"), None),
    ("register form", lambda i: client.get("/store/members/register/"), None),
    (
        "register a member (write; answers with a redirect to the QR page)",
        lambda i: client.post(
            "/store/members/register/", {"phone": f"+86139{i:08d}", "name": f"New {i}", "consent": "on"}
        ),
        size["writes"],
    ),
    ("welcome page with two QR codes", lambda i: client.get(f"/store/members/{pick(i)[0]}/welcome/"), None),
    (
        "redeem a coupon (write)",
        lambda i: client.post("/store/coupons/redeem/", {"code": f"BC{pick(i)[2]}"}),
        size["writes"],
    ),
    (
        "sale: check prices with member and coupon",
        lambda i: client.post(
            "/store/sale/",
            {
                "items": sale_items,
                "member": pick(i)[0],
                "coupon": f"BC{pick(i + 120)[2]}",
                "sale_id": "q" * 32,
                "action": "quote",
            },
        ),
        None,
    ),
    (
        "sale: record (write: order, stock, points, spend)",
        lambda i: client.post(
            "/store/sale/",
            {"items": sale_items, "member": pick(i)[0], "sale_id": uuid.uuid4().hex, "action": "record"},
        ),
        size["writes"],
    ),
    ("order page", lambda i: client.get(f"/store/orders/BO{pick(i)[2]}/"), None),
    (
        "verify a voucher (write)",
        lambda i: client.post("/store/vouchers/verify/", {"code": vouchers[i]}),
        size["writes"],
    ),
    ("stock here and nearby", lambda i: client.get("/store/stock/", {"sku": skus[i % 50].code}), None),
    ("my day", lambda i: client.get("/store/my-day/"), None),
    ("member card /m/ (anonymous, signed link)", lambda i: anonymous.get(card_links[i % len(card_links)]), None),
]
for name, call, count in pages:
    serial = itertools.count()  # every call its own index: writes never repeat a phone, coupon or voucher
    probe = call(next(serial))
    assert probe.status_code in (200, 302), (name, probe.status_code, probe.content[:300])
    count = count or size["requests"]
    median, p95 = latency_ms(lambda _i, call=call, serial=serial: call(next(serial)), count, warmup=min(5, count // 2))
    report.figure(f"{name}, median (p95 {p95:.1f} ms)", median, "ms", "< 100 ms", median < 100)
report.print()
