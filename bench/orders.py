"""Orders at scale: the order API behind gunicorn with 8 concurrent clients posting 3-line member orders
with points, and a historic import of order lines against a raw COPY of the same rows.

python bench/orders.py --scale full    # 30 s of posting; 1,000,000 imported lines
python bench/orders.py --scale smoke   # a few seconds; 3,000 lines; what CI runs
"""

from harness import ROOT, Report, copy_rows, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"seconds": 3, "lines": 3_000, "members": 500, "stores": 5, "skus": 50},
    "full": {"seconds": 30, "lines": 1_000_000, "members": 20_000, "stores": 40, "skus": 300},
}
CLIENTS = 8

args = parse_args(__doc__)
setup_django("retail_bench_orders")

import csv  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.core.imports import import_file  # noqa: E402
from apps.stores.services import api_key_create  # noqa: E402

size = SCALES[args.scale]
report = Report(f"orders ({args.scale})")
now = timezone.now()

truncate(
    "orders_refundline", "orders_refund", "orders_orderline", "orders_order", "loyalty_pointsentry",
    "loyalty_pointslot", "members_memberspendday", "members_tierchange", "catalog_stockmovement", "catalog_stock",
    "catalog_pricechange", "catalog_sku", "catalog_product", "members_member", "members_tier", "stores_apikey",
    "stores_channel", "stores_store",
)  # fmt: skip

# -- data: stores, SKUs with prices and deep stock, tiers, members -------------------------------------------
with connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO stores_channel (code, name, kind, is_active) VALUES ('benchmall', 'Bench mall', 'mall', true),"
        " ('benchpos', 'Bench POS', 'pos', true)"
    )
    cursor.execute(
        "INSERT INTO stores_store (code, name, kind, address, city, lat, lng, timezone, is_active) "
        "SELECT 'B' || lpad(i::text, 4, '0'), 'Bench store ' || i, 'store', '', 'Shanghai', 31 + i / 1000.0, "
        "121 + i / 1000.0, 'Asia/Shanghai', true FROM generate_series(1, %s) i",
        [size["stores"]],
    )
    cursor.execute(
        "INSERT INTO members_tier (code, name, rank, min_annual_spend, points_per_yuan, discount_percent, benefits) "
        "VALUES ('std', 'Standard', 1, 0, 1, 0, ''), ('gold', 'Gold', 2, 100000000, 2, 5, '')"
    )
from apps.catalog.models import PriceChange, Product, Sku  # noqa: E402
from apps.members.models import Member, Tier  # noqa: E402
from apps.stores.models import Channel, Store  # noqa: E402

product = Product.objects.create(code="BENCH", name="Bench product")
Sku.objects.bulk_create(Sku(code=f"K{i:05d}", product=product, name=f"Item {i}") for i in range(size["skus"]))
skus = list(Sku.objects.order_by("pk").values_list("pk", "code"))
prices = {code: Decimal(10 + (pk % 90)) + Decimal("0.50") for pk, code in skus}
PriceChange.objects.bulk_create(
    PriceChange(sku_id=pk, price=prices[code], valid_from=now - timezone.timedelta(days=400), source="seed")
    for pk, code in skus
)
stores = list(Store.objects.order_by("pk").values_list("pk", "code"))
copy_rows(
    "catalog_stock",
    ["store_id", "sku_id", "on_hand", "reserved", "updated_at"],
    ((store_pk, sku_pk, 10_000_000, 0, now) for store_pk, _c in stores for sku_pk, _s in skus),
)
std = Tier.objects.get(code="std")
copy_rows(
    "members_member",
    ["code", "phone", "name", "joined_at", "status", "points_balance", "created_at", "tier_id", "join_store_id"],
    (
        (f"BM{i:09d}", f"+86139{i:08d}", f"Member {i}", now, "active", 0, now, std.pk, stores[i % len(stores)][0])
        for i in range(size["members"])
    ),
)
vacuum_analyze("members_member", "catalog_stock", "catalog_sku", "catalog_pricechange")
_key, raw_key = api_key_create(channel_code="benchmall")
connection.close()

# -- the order API behind gunicorn ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(index: int, port: int, key: str, seconds: float, start_at: float, queue) -> None:
    rng = random.Random(index)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    latencies, errors, n = [], 0, 0
    while time.time() < start_at:
        time.sleep(0.005)
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        n += 1
        picked = rng.sample(skus, 3)
        body = {
            "external_id": f"c{index}-{n}",
            "store": rng.choice(stores)[1],
            "member": {"code": f"BM{rng.randrange(size['members']):09d}"},
            "lines": [
                {"sku": code, "quantity": rng.randint(1, 3), "unit_price": str(prices[code])} for _pk, code in picked
            ],
        }
        began = time.perf_counter()
        conn.request("POST", "/api/v1/orders", json.dumps(body), headers)
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - began) * 1000)
        if response.status != 201:
            errors += 1
            if errors < 3:
                print("unexpected", response.status, flush=True)
    queue.put((latencies, errors))


port = free_port()
env = {**os.environ, "DJANGO_SECURE_SSL": "false", "API_THROTTLE_RATE": "10000000/min", "LOG_LEVEL": "WARNING"}
workers = os.environ.get("BENCH_WORKERS", "4")
server = subprocess.Popen(
    [
        str(ROOT / ".venv/bin/gunicorn"),
        "config.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        workers,
        "--log-level",
        "warning",
    ],
    cwd=ROOT,
    env=env,
)
try:
    for _ in range(200):
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            probe.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    # warm every worker (imports, connections)
    warm = multiprocessing.Queue()
    for i in range(CLIENTS):
        multiprocessing.Process(target=client, args=(100 + i, port, raw_key, 1.0, time.time(), warm)).start()
    for _ in range(CLIENTS):
        warm.get()
    queue = multiprocessing.Queue()
    start_at = time.time() + 0.5
    procs = [
        multiprocessing.Process(target=client, args=(i, port, raw_key, size["seconds"], start_at, queue))
        for i in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
finally:
    server.terminate()
    server.wait(timeout=30)

latencies = sorted(x for lat, _e in results for x in lat)
errors = sum(e for _l, e in results)
rate = len(latencies) / size["seconds"]
p95 = latencies[int(len(latencies) * 0.95) - 1]
report.figure(f"order API, {CLIENTS} clients, 3-line member orders with points ({workers} workers)", rate,
              "orders/s", ">= 200", rate >= 200)  # fmt: skip
report.figure("order API p95 latency", p95, "ms", "< 50", p95 < 50)
report.figure("order API median latency", latencies[len(latencies) // 2], "ms")
report.figure("order API non-201 answers", errors, "", "0", errors == 0)

# -- historic import against a raw COPY of the same rows -------------------------------------------------------
lines = size["lines"]
rng = random.Random(7)
tmp = Path(tempfile.mkdtemp()) / "orders.csv"
header = ["external_id", "channel", "store", "member_phone", "placed_at", "sku", "quantity", "unit_price"]
raw_rows = []
with tmp.open("w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(header)
    i = 0
    while i < lines:
        order_lines = min(3, lines - i)
        store_code = rng.choice(stores)[1]
        phone = f"+86139{rng.randrange(size['members']):08d}" if rng.random() < 0.7 else ""
        placed = (now - timezone.timedelta(days=rng.randrange(365), minutes=rng.randrange(1440))).isoformat()
        for _ in range(order_lines):
            _pk, code = rng.choice(skus)
            row = [f"H{i}", "benchpos", store_code, phone, placed, code, str(rng.randint(1, 4)), str(prices[code])]
            writer.writerow(row)
            raw_rows.append(row)
        i += order_lines

# The baseline: a raw COPY of the same orders and lines into the real tables (their indexes and foreign keys
# checked at once), rolled back; then a COPY of the bare lines into an unindexed temporary table, for reference.
channel_ids = dict(Channel.objects.values_list("code", "pk"))
store_ids = {code: pk for pk, code in stores}
sku_ids = {code: pk for pk, code in skus}
member_ids = dict(Member.objects.values_list("phone", "pk"))
order_rows, line_rows, heads = [], [], {}
for row in raw_rows:
    key = (row[1], row[0])
    if key not in heads:
        heads[key] = order_id = 50_000_000 + len(heads)
        order_rows.append([order_id, f"B{order_id}", channel_ids[row[1]], row[0], "", store_ids[row[2]],
                           member_ids.get(row[3]), store_ids[row[2]], False, "completed", "in_store", True, "",
                           row[4], True, "", Decimal(0), 0, Decimal(0), 0, 0, "[]", True, now])  # fmt: skip
        position = 0
    total = Decimal(row[7]) * int(row[6])
    order_rows[-1][16] += total
    order_rows[-1][18] += total
    position += 1
    line_rows.append((heads[key], position, sku_ids[row[5]], int(row[6]), row[7], 0, total, 0, 0))
order_columns = ["id", "number", "channel_id", "external_id", "fingerprint", "store_id", "member_id",
                 "credited_store_id", "is_online", "status", "fulfilment", "is_fulfilled", "delivery_address",
                 "placed_at", "is_paid", "payment_method", "subtotal", "discount_total", "total", "refunded_total",
                 "points_earned", "coupons_applied", "is_historic", "created_at"]  # fmt: skip
line_columns = ["order_id", "position", "sku_id", "quantity", "unit_price", "discount", "total",
                "refunded_quantity", "refunded_amount"]  # fmt: skip
connection.set_autocommit(False)
try:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with timer() as elapsed:
        copy_rows("orders_order", order_columns, order_rows)
        copy_rows("orders_orderline", line_columns, line_rows)
    copy_seconds = elapsed()
finally:
    connection.rollback()
    connection.set_autocommit(True)
del order_rows, line_rows, heads
with connection.cursor() as cursor:
    cursor.execute(
        "CREATE TEMPORARY TABLE raw_order_lines (external_id text, channel text, store text, member_phone text, "
        "placed_at timestamptz, sku text, quantity integer, unit_price numeric(12,2))"
    )
with timer() as elapsed:
    copy_rows("raw_order_lines", header, raw_rows)
bare_copy_seconds = elapsed()
del raw_rows
with timer() as elapsed, tmp.open("rb") as stream:
    result = import_file("orders", stream, tmp.name)
import_seconds = elapsed()
tmp.unlink()
report.figure(f"raw COPY of {lines:,} bare lines into a temporary table (reference)", bare_copy_seconds, "s")
report.figure(f"raw COPY of the same orders and lines into the order tables ({lines:,} lines)", copy_seconds, "s")
report.figure(f"import_data orders, {lines:,} lines ({result.created:,} orders)", import_seconds, "s",
              f"<= 4x COPY ({4 * copy_seconds:.1f} s)", import_seconds <= 4 * copy_seconds)  # fmt: skip
report.figure("import / COPY into the order tables", import_seconds / copy_seconds, "x", "<= 4")
report.figure("import / COPY of bare lines (reference)", import_seconds / bare_copy_seconds, "x")
report.print()
