"""Catalog at scale: price lookups, availability nearest first, the stock import against a raw COPY.

python bench/catalog.py --scale full    # 100,000 SKUs, 1,000 stores, 1,000,000 stock rows
python bench/catalog.py --scale smoke   # a few thousand rows; what CI runs
"""

from harness import Report, copy_rows, latency_ms, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"skus": 2_000, "stores": 50, "stock_per_store": 400, "requests": 200},
    "full": {"skus": 100_000, "stores": 1_000, "stock_per_store": 1_000, "requests": 2_000},
}
# Stores cluster around real city centres, as a chain's do.
CITIES = [
    (31.23, 121.47),
    (39.90, 116.40),
    (23.13, 113.26),
    (22.54, 114.06),
    (30.27, 120.16),
    (30.57, 104.07),
    (29.56, 106.55),
    (32.06, 118.80),
    (30.59, 114.31),
    (34.34, 108.94),
    (36.07, 120.38),
    (38.04, 114.51),
    (28.23, 112.94),
    (26.07, 119.30),
    (25.04, 102.71),
    (45.80, 126.53),
    (41.80, 123.43),
    (36.65, 117.12),
]

args = parse_args(__doc__)
setup_django("retail_bench_catalog")

import csv  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from apps.catalog.api import SkuPriceApi  # noqa: E402
from apps.core.imports import import_file  # noqa: E402
from apps.members.models import Member, Tier  # noqa: E402
from apps.stores.auth import ChannelPrincipal  # noqa: E402
from apps.stores.models import Channel, Store  # noqa: E402
from apps.stores.scopes import ALL_SCOPES  # noqa: E402
from apps.stores.services import api_key_create  # noqa: E402

size = SCALES[args.scale]
rng = random.Random(42)
report = Report(
    f"catalog ({args.scale}: {size['skus']:,} SKUs, {size['stores']:,} stores, "
    f"{size['stores'] * size['stock_per_store']:,} stock rows)"
)
now = timezone.now()

# --- data ------------------------------------------------------------------------------------------------
truncate(
    "catalog_stockmovement",
    "catalog_stock",
    "catalog_channellisting",
    "catalog_tierprice",
    "catalog_pricechange",
    "catalog_sku",
    "catalog_product",
    "catalog_category",
    "members_member",
    "members_tier",
    "stores_store",
    "stores_apikey",
    "stores_channel",
)
channel = Channel.objects.create(code="mall", name="Mall", kind="mall")
_key, raw_key = api_key_create(channel_code="mall")
stores = Store.objects.bulk_create(
    Store(
        code=f"S{i:04d}",
        name=f"Store {i}",
        city=f"city{i % len(CITIES)}",
        lat=Decimal(str(round(CITIES[i % len(CITIES)][0] + rng.uniform(-0.3, 0.3), 6))),
        lng=Decimal(str(round(CITIES[i % len(CITIES)][1] + rng.uniform(-0.3, 0.3), 6))),
    )
    for i in range(size["stores"])
)
tiers = Tier.objects.bulk_create(
    Tier(code=code, name=code.title(), rank=rank, discount_percent=Decimal(d))
    for rank, (code, d) in enumerate([("basic", "0"), ("silver", "3"), ("gold", "5")], start=1)
)
members = Member.objects.bulk_create(
    Member(code=f"B{i:09d}", phone=f"+86139{i:08d}", joined_at=now, tier=tiers[i % 3]) for i in range(1000)
)

n_skus = size["skus"]
with timer() as generation:
    copy_rows("catalog_category", ["id", "code", "name"], ((i, f"c{i}", f"Category {i}") for i in range(1, 21)))
    copy_rows(
        "catalog_product",
        ["id", "code", "name", "brand", "category_id", "description", "image_urls", "created_at"],
        ((i, f"P{i:06d}", f"Style {i}", "Acme", i % 20 + 1, "", "[]", now) for i in range(1, n_skus // 5 + 1)),
    )
    copy_rows(
        "catalog_sku",
        ["id", "code", "product_id", "name", "barcode", "attributes", "is_active", "created_at"],
        (
            (i, f"K{i:07d}", (i - 1) // 5 + 1, f"Style {(i - 1) // 5 + 1} size {i % 5}", f"69{i:011d}", "{}", True, now)
            for i in range(1, n_skus + 1)
        ),
    )

    def price_rows():
        for i in range(1, n_skus + 1):
            base = Decimal(rng.randrange(2900, 99900)) / 100
            yield (i, base + 20, now - timedelta(days=200), now, "seed", "")
            if i % 3 == 0:
                yield (i, base, now - timedelta(days=20), now, "seed", "")
            if i % 10 == 0:
                yield (i, base - 10, now + timedelta(days=5), now, "seed", "")

    copy_rows("catalog_pricechange", ["sku_id", "price", "valid_from", "created_at", "source", "note"], price_rows())
    copy_rows(
        "catalog_tierprice",
        ["sku_id", "tier_id", "price", "updated_at"],
        ((i, tiers[2].pk, Decimal(rng.randrange(2000, 9000)) / 100, now) for i in range(1, n_skus + 1, 2)),
    )
report.figure("data generated (SKUs, prices, tier prices)", generation(), "s")

# The same stock rows twice: ids for the raw COPY baseline, codes in the CSV file the import reads.
stock_rows = []
for store in stores:
    for sku_id in rng.sample(range(1, n_skus + 1), size["stock_per_store"]):
        stock_rows.append((store.pk, store.code, sku_id, rng.randint(0, 40)))
csv_path = Path(tempfile.mkdtemp()) / "stock.csv"
with csv_path.open("w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["store", "sku", "quantity"])
    writer.writerows((code, f"K{sku_id:07d}", q) for _sid, code, sku_id, q in stock_rows)

# --- stock import vs raw COPY ----------------------------------------------------------------------------
now_text = now.isoformat()  # text, so the baseline pays no per-row datetime adaptation
with timer() as raw_copy:
    copy_rows(
        "catalog_stock",
        ["store_id", "sku_id", "on_hand", "reserved", "updated_at"],
        ((sid, sku_id, q, 0, now_text) for sid, _code, sku_id, q in stock_rows),
    )
truncate("catalog_stock", "catalog_stockmovement")
vacuum_analyze("catalog_sku", "stores_store")
with timer() as imported, csv_path.open("rb") as f:
    result = import_file("stock", f, "stock.csv")
ratio = imported() / raw_copy()
report.figure("raw COPY of the stock rows (baseline)", raw_copy(), "s")
report.figure("stock import of the same rows (file to movements)", imported(), "s")
report.figure("stock import / raw COPY", ratio, "x", "< 3x", ratio < 3)
assert result.created == sum(1 for r in stock_rows if r[3] > 0), result
with timer() as reimported, csv_path.open("rb") as f:
    again = import_file("stock", f, "stock.csv")
assert again.created == again.updated == 0, again
report.figure("re-import of the same file (records nothing)", reimported(), "s")
vacuum_analyze("catalog_stock", "catalog_stockmovement", "catalog_pricechange", "catalog_tierprice")
with connection.cursor() as cursor:
    cursor.execute("CHECKPOINT")  # let the import's writes settle before timing reads

# --- API latency -----------------------------------------------------------------------------------------
client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
codes = [f"K{rng.randrange(1, n_skus + 1):07d}" for _ in range(size["requests"])]
member_codes = [m.code for m in members]


def price(i: int) -> None:
    response = client.get(f"/api/v1/skus/{codes[i % len(codes)]}/price", {"member": member_codes[i % 1000]})
    assert response.status_code == 200, response.content


def availability(i: int) -> None:
    lat, lng = CITIES[i % len(CITIES)]
    response = client.get(f"/api/v1/skus/{codes[i % len(codes)]}/availability", {"lat": lat, "lng": lng, "limit": 5})
    assert response.status_code == 200, response.content


median, p95 = latency_ms(price, size["requests"])
report.figure("price with member price, median", median, "ms", "< 5 ms", median < 5)
report.figure("price with member price, p95", p95, "ms")
# The same view with the channel already authenticated: how much of the request is the API-key lookup.
factory = APIRequestFactory()
principal = ChannelPrincipal(channel_id=channel.pk, channel_code="mall", api_key_id=0, scopes=frozenset(ALL_SCOPES))
price_view = SkuPriceApi.as_view()


def price_without_key_lookup(i: int) -> None:
    request = factory.get(f"/api/v1/skus/{codes[i % len(codes)]}/price", {"member": member_codes[i % 1000]})
    force_authenticate(request, user=principal)
    response = price_view(request, sku=codes[i % len(codes)])
    assert response.status_code == 200, response.data


median, _p95 = latency_ms(price_without_key_lookup, size["requests"])
report.figure("price view alone (channel pre-authenticated), median", median, "ms")
median, p95 = latency_ms(availability, size["requests"])
report.figure("availability nearest first, median", median, "ms", "< 20 ms", median < 20)
report.figure("availability nearest first, p95", p95, "ms")

# Raw SQL baseline for the same lookups, to separate the database from the framework.
with connection.cursor() as cursor:

    def raw_price(i: int) -> None:
        cursor.execute(
            "SELECT pc.price, tp.price FROM catalog_sku s "
            "LEFT JOIN LATERAL (SELECT price FROM catalog_pricechange WHERE sku_id = s.id AND valid_from <= now() "
            "ORDER BY valid_from DESC LIMIT 1) pc ON true "
            "LEFT JOIN catalog_tierprice tp ON tp.sku_id = s.id AND tp.tier_id = %s WHERE s.code = %s",
            [tiers[2].pk, codes[i % len(codes)]],
        )
        cursor.fetchall()

    median, _p95 = latency_ms(raw_price, size["requests"])
    report.figure("raw SQL price lookup (baseline), median", median, "ms")

# --- query counts (no N+1) -------------------------------------------------------------------------------
failures = []


def count_queries(label: str, url: str, limit: int, web: Client, params=None, only: str = "") -> None:
    """Queries one request makes (``only``: those whose SQL contains it, e.g. this app's tables)."""
    web.get(url, params or {})  # warm: the key's last-used stamp is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = web.get(url, params or {})
    assert response.status_code == 200, (url, response.status_code)
    n = sum(1 for q in ctx.captured_queries if only in q["sql"])
    report.figure(f"queries: {label}", n, "", f"<= {limit}", n <= limit)
    if n > limit:
        failures.append(label)


count_queries(
    "price endpoint (key; member and price)", f"/api/v1/skus/{codes[0]}/price", 2, client, {"member": member_codes[2]}
)
count_queries(
    "availability endpoint (key; stock with stores)",
    f"/api/v1/skus/{codes[0]}/availability",
    2,
    client,
    {"lat": 31.2, "lng": 121.4},
)
admin_user = get_user_model().objects.filter(
    username="bench-admin"
).first() or get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "bench-admin-pw")
web = Client()
web.force_login(admin_user)
# Admin pages: catalog queries only (session, user and other apps' context add a few of their own).
count_queries("admin SKU list, 100 rows (catalog tables)", "/admin/catalog/sku/", 4, web, only="catalog_")
count_queries(
    "admin SKU search by barcode (catalog tables)", "/admin/catalog/sku/", 4, web, {"q": "6900000000017"}, "catalog_"
)
count_queries("admin stock list (catalog tables)", "/admin/catalog/stock/", 4, web, only="catalog_")


def admin_list(i: int) -> None:
    assert web.get("/admin/catalog/sku/", {"p": i % 5 + 1}).status_code == 200


median, _p95 = latency_ms(admin_list, 20, warmup=2)
report.figure("admin SKU list page, median", median, "ms")

report.print()
sys.stdout.flush()
if failures:  # query counts are deterministic: a regression fails the run; timings are only reported
    sys.exit(f"query count exceeded: {', '.join(failures)}")
