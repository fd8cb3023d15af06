"""Wallet at scale: wallet-paid orders through the API against ordinary orders in the same run (phases
interleaved, same server, same clients), and the liability report over a large ledger against a bare aggregate.

python bench/wallet.py --scale full     # 1,000,000 members, 5,000,000 entries; 4 x 10 s of posting
BENCH_MEMBERS=200000 BENCH_ENTRIES=1000000 python bench/wallet.py --scale full   # a smaller full run
python bench/wallet.py --scale smoke    # what CI runs
"""

from harness import ROOT, Report, copy_rows, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"seconds": 2, "rounds": 1, "members": 2_000, "entries": 10_000, "stores": 5, "skus": 30},
    "full": {"seconds": 10, "rounds": 2, "members": 1_000_000, "entries": 5_000_000, "stores": 40, "skus": 300},
}
CLIENTS = 8
PAYERS = 5_000  # members who pay with the card in the API phase (recharged generously)

args = parse_args(__doc__)
setup_django("retail_bench_wallet")

import http.client  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.stores.services import api_key_create  # noqa: E402

size = dict(SCALES[args.scale])
size["members"] = int(os.environ.get("BENCH_MEMBERS", size["members"]))
size["entries"] = int(os.environ.get("BENCH_ENTRIES", size["entries"]))
PAYERS = min(PAYERS, size["members"])
report = Report(f"wallet, {size['members']:,} members, {size['entries']:,} entries ({args.scale})")
now = timezone.now()

truncate(
    "loyalty_walletmonth", "loyalty_walletentry", "loyalty_walletbonuslot", "loyalty_wallet", "orders_refundline",
    "orders_refund", "orders_orderline", "orders_order", "loyalty_pointsentry", "loyalty_pointslot",
    "members_memberspendday", "members_tierchange", "catalog_stockmovement", "catalog_stock", "catalog_pricechange",
    "catalog_sku", "catalog_product", "members_member", "members_tier", "stores_apikey", "stores_channel",
    "stores_store",
)  # fmt: skip

with connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO stores_channel (code, name, kind, is_active) VALUES ('benchmall', 'Mall', 'mall', true)"
    )
    cursor.execute(
        "INSERT INTO stores_store (code, name, kind, address, city, lat, lng, timezone, is_active) "
        "SELECT 'B' || lpad(i::text, 4, '0'), 'Bench store ' || i, 'store', '', 'Shanghai', 31 + i / 1000.0, "
        "121 + i / 1000.0, 'Asia/Shanghai', true FROM generate_series(1, %s) i",
        [size["stores"]],
    )
    cursor.execute(
        "INSERT INTO members_tier (code, name, rank, min_annual_spend, points_per_yuan, discount_percent, benefits) "
        "VALUES ('std', 'Standard', 1, 0, 1, 0, '')"
    )
from apps.catalog.models import PriceChange, Product, Sku  # noqa: E402
from apps.loyalty.wallet.selectors import wallet_liability, wallet_months_close  # noqa: E402
from apps.members.models import Member, Tier  # noqa: E402
from apps.stores.models import Store  # noqa: E402

product = Product.objects.create(code="BENCH", name="Bench product")
Sku.objects.bulk_create(Sku(code=f"K{i:05d}", product=product, name=f"Item {i}") for i in range(size["skus"]))
skus = list(Sku.objects.order_by("pk").values_list("pk", "code"))
prices = {code: Decimal(10 + (pk % 90)) + Decimal("0.50") for pk, code in skus}
PriceChange.objects.bulk_create(
    PriceChange(sku_id=pk, price=prices[code], valid_from=now - timedelta(days=400), source="seed") for pk, code in skus
)
stores = list(Store.objects.order_by("pk").values_list("pk", "code"))
copy_rows(
    "catalog_stock",
    ["store_id", "sku_id", "on_hand", "reserved", "updated_at"],
    ((store_pk, sku_pk, 10_000_000, 0, now) for store_pk, _c in stores for sku_pk, _s in skus),
)
std = Tier.objects.get(code="std")
n_members = size["members"]
copy_rows(
    "members_member",
    ["code", "phone", "name", "joined_at", "status", "points_balance", "created_at", "tier_id", "join_store_id"],
    (
        (f"BM{i:09d}", f"+86139{i:08d}", f"Member {i}", now, "active", 0, now, std.pk, stores[i % len(stores)][0])
        for i in range(n_members)
    ),
)
member_ids = list(Member.objects.order_by("pk").values_list("pk", flat=True))

# -- a ledger history over 24 months: recharges, bonus, payments, refunds, expiries; every entry's member
# -- and store real; the payers get a large recharge now so the API phase never runs short
rng = random.Random(3)
months = 24
start = now - timedelta(days=30 * months)
kinds = ["recharge", "bonus", "payment", "payment", "payment", "refund", "expiry"]


def history():
    for i in range(size["entries"]):
        kind = kinds[i % len(kinds)]
        amount = Decimal(rng.randrange(100, 50_000)) / 100
        principal, bonus = {
            "recharge": (amount, 0), "bonus": (0, amount), "payment": (-amount, 0), "refund": (amount / 2, 0),
            "expiry": (0, -amount / 10),
        }[kind]  # fmt: skip
        principal, bonus = Decimal(principal).quantize(Decimal("0.01")), Decimal(bonus).quantize(Decimal("0.01"))
        at = start + timedelta(seconds=i * (30 * months * 86400) // size["entries"])
        yield (member_ids[rng.randrange(n_members)], kind, principal + bonus, principal, bonus, 0, 0, 0,
               stores[rng.randrange(len(stores))][0], "", "", f"h{i}", "", "", at)  # fmt: skip


entry_columns = ["member_id", "kind", "amount", "principal", "bonus", "balance_after", "principal_after",
                 "bonus_after", "store_id", "payment_method", "reference", "idempotency_key", "fingerprint",
                 "reason", "created_at"]  # fmt: skip
with timer() as elapsed:
    copy_rows("loyalty_walletentry", entry_columns, history())
report.figure("COPY of the ledger history", elapsed(), "s")
payers = member_ids[:PAYERS]
copy_rows(
    "loyalty_wallet",
    ["member_id", "principal", "bonus", "store_id", "is_closed", "updated_at"],
    ((pk, Decimal("1000000.00"), 0, stores[0][0], False, now) for pk in payers),
)
copy_rows(
    "loyalty_walletentry",
    entry_columns,
    ((pk, "recharge", Decimal("1000000.00"), Decimal("1000000.00"), 0, Decimal("1000000.00"),
      Decimal("1000000.00"), 0, stores[0][0], "cash", "", f"seed{pk}", "", "", now) for pk in payers),
)  # fmt: skip
vacuum_analyze("members_member", "catalog_stock", "catalog_sku", "catalog_pricechange", "loyalty_walletentry")
_key, raw_key = api_key_create(channel_code="benchmall")

# -- the liability report: a bare aggregate, the report with nothing summarised, the report with closed
# -- months summarised (what runs in production after the nightly task)
tz = "Asia/Shanghai"


def best_of(call, times=3) -> float:
    best = float("inf")
    for _ in range(times):
        with timer() as elapsed:
            call()
        best = min(best, elapsed())
    return best


def bare():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT store_id, date_trunc('month', created_at AT TIME ZONE %s), SUM(principal), SUM(bonus) "
            "FROM loyalty_walletentry GROUP BY 1, 2",
            [tz],
        )
        cursor.fetchall()


bare_seconds = best_of(bare)
unsummarised = best_of(wallet_liability)
with timer() as elapsed:
    wallet_months_close()
close_seconds = elapsed()
rows = wallet_liability()
summarised = best_of(wallet_liability)
assert rows and rows[-1].month.month == timezone.localdate().month, rows[-1]
report.figure("bare aggregate of the whole ledger by store and month (baseline)", bare_seconds, "s")
report.figure("liability report, nothing summarised", unsummarised, "s", f"ratio {unsummarised / bare_seconds:.2f}")
report.figure("nightly summary of the closed months (once)", close_seconds, "s")
report.figure("liability report, closed months summarised", summarised, "s", "< 1 s", summarised < 1)
report.figure("  ratio to the bare aggregate", summarised / bare_seconds, "x")
connection.close()

# -- wallet-paid orders against ordinary orders through gunicorn ---------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(index: int, port: int, key: str, seconds: float, start_at: float, wallet: bool, queue) -> None:
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
        lines = [{"sku": code, "quantity": rng.randint(1, 3)} for _pk, code in picked]
        body = {
            "external_id": f"{'w' if wallet else 'o'}{start_at}-{index}-{n}",
            "store": rng.choice(stores)[1],
            "member": {"code": f"BM{rng.randrange(PAYERS):09d}"},
            "lines": lines,
        }
        if wallet:
            total = sum(prices[line["sku"]] * line["quantity"] for line in lines)
            wallet_part = (total / 2).quantize(Decimal("0.01"))
            body["payments"] = [
                {"method": "wallet", "amount": str(wallet_part)},
                {"method": "wechat_pay", "amount": str(total - wallet_part)},
            ]
        began = time.perf_counter()
        conn.request("POST", "/api/v1/orders", json.dumps(body), headers)
        response = conn.getresponse()
        answer = response.read()
        latencies.append((time.perf_counter() - began) * 1000)
        if response.status != 201:
            errors += 1
            if errors < 3:
                print("unexpected", response.status, answer[:300], flush=True)
    queue.put((latencies, errors))


def phase(port: int, seconds: float, wallet: bool) -> tuple[int, int]:
    queue = multiprocessing.Queue()
    start_at = time.time() + 0.3
    procs = [
        multiprocessing.Process(target=client, args=(i, port, raw_key, seconds, start_at, wallet, queue))
        for i in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(len(lat) for lat, _e in results), sum(e for _l, e in results)


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
counts = {False: [0, 0], True: [0, 0]}
try:
    for _ in range(200):
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            probe.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    phase(port, 1.0, False)  # warm every worker
    warm_paid, _errors = phase(port, 1.0, True)
    for _ in range(size["rounds"]):  # interleaved, so the machine's load falls on both alike
        for wallet in (False, True):
            done, errors = phase(port, size["seconds"], wallet)
            counts[wallet][0] += done
            counts[wallet][1] += errors
finally:
    server.terminate()
    server.wait(timeout=30)

span = size["seconds"] * size["rounds"]
ordinary, paid = counts[False][0] / span, counts[True][0] / span
report.figure(f"ordinary member orders, {CLIENTS} clients ({workers} workers)", ordinary, "orders/s")
report.figure("orders half paid from the wallet (split with WeChat Pay)", paid, "orders/s")
ratio = paid / ordinary if ordinary else 0
report.figure("  wallet-paid / ordinary throughput", ratio, "x", ">= 0.90", ratio >= 0.9)
report.figure("non-201 answers", counts[False][1] + counts[True][1], "", "0", counts[False][1] + counts[True][1] == 0)
with connection.cursor() as cursor:
    cursor.execute("SELECT COUNT(*) FROM loyalty_walletentry WHERE kind = 'payment' AND reference LIKE 'order:%%'")
    booked, expected = cursor.fetchone()[0], counts[True][0] + warm_paid
    report.figure("wallet payments booked (one per wallet-paid order)", booked, "", f"= {expected}", booked == expected)
report.print()
