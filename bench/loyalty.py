"""Loyalty at scale: issue a coupon to every member, expire a month of points for every member, and
race redemptions of one coupon and of one member's points.

python bench/loyalty.py --scale full    # 1,000,000 members
python bench/loyalty.py --scale smoke   # 2,000 members; what CI runs
"""

from harness import Report, copy_rows, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"members": 2_000, "racers": 40, "point_racers": 20},
    "full": {"members": 1_000_000, "racers": 200, "point_racers": 100},
}

args = parse_args(__doc__)
setup_django("retail_bench_loyalty")

import threading  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402

from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.loyalty.errors import CouponAlreadyRedeemed, InsufficientPoints  # noqa: E402
from apps.loyalty.models import Coupon, CouponTemplate  # noqa: E402
from apps.loyalty.points import lot_expiry  # noqa: E402
from apps.loyalty.selectors import ledger_mismatches  # noqa: E402
from apps.loyalty.services import (  # noqa: E402
    coupon_redeem,
    coupons_issue_bulk,
    points_earn,
    points_expire_due,
    points_redeem,
)
from apps.members.models import Member  # noqa: E402
from apps.stores.models import Store  # noqa: E402

size = SCALES[args.scale]
n = size["members"]
report = Report(f"loyalty, {n:,} members ({args.scale})")
truncate("loyalty_pointsentry", "loyalty_pointslot", "loyalty_coupon", "loyalty_coupontemplate", "members_member")
now = timezone.now()
copy_rows(
    "members_member",
    ["code", "phone", "name", "joined_at", "status", "points_balance", "created_at"],
    ((f"B{i:011d}", None, f"Member {i}", now, "active", 100, now) for i in range(n)),
)
vacuum_analyze("members_member")
store = Store.objects.get_or_create(code="BENCH", defaults={"name": "Bench store"})[0]

# -- one coupon to every member, against a raw COPY of as many coupon rows --------------------------------
template = CouponTemplate.objects.create(code="everyone", name="For everyone", kind="amount", value=10, valid_days=30)
baseline = CouponTemplate.objects.create(code="baseline", name="Baseline", kind="amount", value=10, valid_days=30)
ids = list(Member.objects.order_by("pk").values_list("pk", flat=True))
with timer() as elapsed:
    copy_rows(
        "loyalty_coupon",
        ["code", "template_id", "member_id", "status", "issued_at", "valid_from", "expires_at", "redeemed_order"],
        (
            (f"BASE{i:012d}", baseline.pk, pk, "issued", now, now, now + timedelta(days=30), "")
            for i, pk in enumerate(ids)
        ),
    )
copy_seconds = elapsed()
with timer() as elapsed:
    issued = coupons_issue_bulk(template=template)
issue_seconds = elapsed()
assert issued == n, issued
report.figure("raw COPY of one coupon per member", copy_seconds, "s")
report.figure("issue one coupon to every member (limits checked)", issue_seconds, "s", "< 30 s", issue_seconds < 30)

# -- a month of points for every member, then its expiry, against a bare UPDATE of the same lots ----------
month = date(2025, 1, 1)
expires = lot_expiry(month)
earned_at = timezone.make_aware(timezone.datetime(2025, 1, 15))
copy_rows(
    "loyalty_pointslot",
    ["member_id", "earned_month", "expires_at", "points", "remaining"],
    ((pk, month, expires, 100, 100) for pk in ids),
)
copy_rows(
    "loyalty_pointsentry",
    [
        "member_id",
        "kind",
        "points",
        "balance_after",
        "reference",
        "idempotency_key",
        "reason",
        "shortfall",
        "created_at",
    ],
    ((pk, "earn", 100, 100, "bench", f"bench:{pk}", "", 0, earned_at) for pk in ids),
)
vacuum_analyze("loyalty_pointslot", "loyalty_pointsentry")
with timer() as elapsed, connection.cursor() as cursor:
    cursor.execute("UPDATE loyalty_pointslot SET remaining = remaining WHERE expires_at <= %s", [expires])
bare_seconds = elapsed()
vacuum_analyze("loyalty_pointslot")  # the expiry starts from the table as a routine vacuum leaves it
with timer() as elapsed:
    expired = points_expire_due(now=expires + timedelta(seconds=1))
expire_seconds = elapsed()
assert (expired.members, expired.points) == (n, 100 * n), expired
report.figure("bare UPDATE touching the same lots", bare_seconds, "s")
report.figure(
    "expire a month of points for every member (ledger kept)", expire_seconds, "s", "< 30 s", expire_seconds < 30
)
report.figure(
    "members whose balance differs from the ledger", len(ledger_mismatches()), "", "0", not ledger_mismatches()
)


# -- races ----------------------------------------------------------------------------------------------
# PostgreSQL allows 100 connections here; like web workers sharing a pool, the contenders share 80.
POOL = threading.BoundedSemaphore(80)


def race(count: int, work) -> tuple[list[str], float]:
    outcomes: list[str] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        with POOL:
            try:
                outcomes.append(work(i))
            finally:
                connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes, time.perf_counter() - start


coupon = Coupon.objects.filter(template=template).first()


def redeem_coupon(i: int) -> str:
    try:
        coupon_redeem(code=coupon.code, store_id=store.pk)
        return "ok"
    except CouponAlreadyRedeemed:
        return "already"


outcomes, seconds = race(size["racers"], redeem_coupon)
report.figure(
    f"{size['racers']} simultaneous redemptions of one coupon: successes",
    outcomes.count("ok"),
    "",
    "exactly 1",
    outcomes.count("ok") == 1 and outcomes.count("already") == size["racers"] - 1,
)
report.figure("  ... time for all of them", seconds * 1000, "ms")

member = Member.objects.order_by("pk").first()
points_earn(member_id=member.pk, points=500, reference="race", idempotency_key="race:seed")


def redeem_points(i: int) -> str:
    try:
        points_redeem(member_id=member.pk, points=30, reference="race", idempotency_key=f"race:{i}")
        return "ok"
    except InsufficientPoints:
        return "refused"


outcomes, seconds = race(size["point_racers"], redeem_points)
member.refresh_from_db()
spent = outcomes.count("ok") * 30
report.figure(
    f"{size['point_racers']} simultaneous points redemptions of one member: balance after",
    member.points_balance,
    "points",
    ">= 0 and = 500 - spent",
    member.points_balance >= 0 and member.points_balance == 500 - spent,
)
report.figure("  ... time for all of them", seconds * 1000, "ms")
report.print()
