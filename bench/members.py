"""Members at scale: the members import against a raw COPY, lookups, the tier evaluation, the admin list.

python bench/members.py --scale full    # 1,000,000 members
python bench/members.py --scale smoke   # 2,000 members; what CI runs
"""

from harness import Report, copy_rows, latency_ms, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"members": 2_000, "requests": 100, "admin_requests": 5},
    "full": {"members": 1_000_000, "requests": 1_000, "admin_requests": 20},
}

args = parse_args(__doc__)
setup_django("retail_bench_members")

import random  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.core.imports import import_table  # noqa: E402
from apps.members.codes import member_code_new  # noqa: E402
from apps.members.models import Member, Tier  # noqa: E402
from apps.members.services import tiers_evaluate  # noqa: E402
from apps.stores.models import Channel, Store  # noqa: E402
from apps.stores.services import api_key_create  # noqa: E402

size = SCALES[args.scale]
n = size["members"]
report = Report(f"members, {n:,} members ({args.scale})")
rng = random.Random(7)

truncate(
    "members_tierchange",
    "members_memberspendday",
    "members_identity",
    "members_consent",
    "members_consentevent",
    "members_membermerge",
    "members_member",
    "members_tier",
)
stores = [f"S{i:04d}" for i in range(200)]
Store.objects.bulk_create([Store(code=c, name=c, city="Shanghai") for c in stores], ignore_conflicts=True)
for code, rank, spend in (("silver", 1, 0), ("gold", 2, 3000), ("platinum", 3, 10000), ("diamond", 4, 30000)):
    Tier.objects.create(code=code, name=code.title(), rank=rank, min_annual_spend=Decimal(spend))

# -- the file: a million plausible members ------------------------------------------------------------
now = timezone.now()
phones = set()
while len(phones) < n:
    phones.add(f"1{rng.choice('38')}{rng.randrange(10**9):09d}")  # 13x and 18x are all valid mobiles
phones = sorted(phones)
rows = [
    ["phone", "name", "birthday", "joined_at", "join_store", "wechat_openid", "wechat_unionid", "marketing_consent"]
]
for i, phone in enumerate(phones):
    joined = now - timedelta(days=rng.randrange(1, 1500), seconds=rng.randrange(86400))
    rows.append(
        [
            phone,
            f"Member {i}",
            f"{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}" if i % 5 else "",
            joined.isoformat(),
            rng.choice(stores),
            f"oBENCH{i:010d}" if i % 3 else "",
            f"uBENCH{i:010d}" if i % 4 == 0 else "",
            "yes" if i % 2 else "no",
        ]
    )

# -- baselines: raw COPYs of the same members -----------------------------------------------------------------
# The import writes each member, its WeChat identities and its two consents. The baseline COPYs exactly those
# rows into the real tables (their indexes and foreign keys checked at once), then rolls back. The import is
# judged against that; a COPY of the member rows alone is printed beside it for reference.
store_ids = dict(Store.objects.values_list("code", "pk"))
silver = Tier.objects.get(code="silver").pk
member_columns = ["id", "code", "phone", "name", "birthday", "joined_at", "join_store_id", "tier_id", "tier_since",
                  "status", "points_balance", "created_at"]  # fmt: skip
first_id = 10_000_000
copy_source = [
    (first_id + i, member_code_new() + str(i), "+86" + r[0], r[1], r[2] or None, r[3], store_ids[r[4]], silver, r[3],
     "active", 0, now)
    for i, r in enumerate(rows[1:])
]  # fmt: skip
identity_source = [
    (first_id + i, kind, value, now)
    for i, r in enumerate(rows[1:])
    for kind, value in (("wechat_openid", r[5]), ("wechat_unionid", r[6]))
    if value
]
consent_source = [
    (first_id + i, channel, r[7] == "yes", now, "import")
    for i, r in enumerate(rows[1:])
    for channel in ("wechat", "sms")
]


def copy_baseline(tables: list[tuple[str, list[str], list]]) -> float:
    """Seconds to COPY ``tables`` in one transaction, constraints checked at once; then roll back."""
    connection.set_autocommit(False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with timer() as elapsed:
            for table, columns, source in tables:
                copy_rows(table, columns, source)
        return elapsed()
    finally:
        connection.rollback()
        connection.set_autocommit(True)


members_only_seconds = copy_baseline([("members_member", member_columns, copy_source)])
copy_seconds = copy_baseline(
    [
        ("members_member", member_columns, copy_source),
        ("members_identity", ["member_id", "kind", "value", "created_at"], identity_source),
        ("members_consent", ["member_id", "channel", "granted", "changed_at", "source"], consent_source),
    ]
)
written = len(copy_source) + len(identity_source) + len(consent_source)
del copy_source, identity_source, consent_source

with timer() as elapsed:
    result = import_table("members", rows)
import_seconds = elapsed()
assert result.created == n, result
report.figure("raw COPY of the member rows alone (reference)", members_only_seconds, "s")
report.figure(
    f"raw COPY of every row the import writes ({written:,}: members, identities, consents)", copy_seconds, "s"
)
report.figure("members import (parse, check, write members+identities+consent)", import_seconds, "s")
report.figure(
    "import / COPY of what it writes", import_seconds / copy_seconds, "x", "< 3x", import_seconds / copy_seconds < 3
)
report.figure("import / COPY of the member rows alone (reference)", import_seconds / members_only_seconds, "x")
vacuum_analyze("members_member", "members_identity", "members_consent")

# -- lookups through the API (server time: the whole Django request in process) --------------------------
channel, _ = Channel.objects.get_or_create(code="bench", defaults={"name": "Bench", "kind": "mall"})
_key, raw = api_key_create(channel_code="bench")
client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
sample = rng.sample(range(n), min(size["requests"] + 20, n))
codes = dict(Member.objects.filter(phone__in=["+86" + phones[i] for i in sample]).values_list("phone", "code"))
for label, params in (
    ("phone", lambda i: {"phone": phones[sample[i]]}),
    ("code", lambda i: {"code": codes["+86" + phones[sample[i]]]}),
    ("openid", lambda i: {"openid": f"oBENCH{sample[i] if sample[i] % 3 else sample[i] + 1:010d}"}),
):
    median, p95 = latency_ms(
        lambda i, params=params: client.get("/api/v1/members/lookup", params(i)), size["requests"], warmup=20
    )
    report.figure(f"lookup by {label}, median (p95 {p95:.2f} ms)", median, "ms", "< 3 ms", median < 3)

# -- tiers: a year of spend days, then the set-based evaluation of everyone ------------------------------
with connection.cursor() as cursor:
    cursor.execute(
        """
        INSERT INTO members_memberspendday (member_id, day, amount)
        SELECT m.id, (now() - (g.k * 37 % 360) * interval '1 day')::date,
               round((exp(6.5 + (hashtext(m.code || g.k::text) % 1000) / 1000.0 * 1.5))::numeric, 2)
        FROM members_member m CROSS JOIN generate_series(1, 3) AS g(k)
        ON CONFLICT DO NOTHING
        """
    )
    cursor.execute("UPDATE members_member SET tier_since = now() - interval '400 days' WHERE id % 3 = 0")
vacuum_analyze("members_memberspendday", "members_member")
with timer() as elapsed:
    moves = tiers_evaluate()
first = elapsed()
report.figure(
    f"first evaluation, re-tiering everyone ({moves['upgraded']:,} up, {moves['downgraded']:,} down)",
    first,
    "s",
    "< 20 s",
    first < 20,
)
with timer() as elapsed:
    nightly = tiers_evaluate(now=timezone.now() + timedelta(days=1))
report.figure(
    f"nightly evaluation the day after ({nightly['upgraded']:,} up, {nightly['downgraded']:,} down)",
    elapsed(),
    "s",
    "< 20 s",
    elapsed() < 20,
)

# -- the console: member list and a phone search ----------------------------------------------------------
User = get_user_model()
admin_user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
    "bench-admin", "b@example.com", "bench-pass-2026"
)
console = Client()
console.force_login(admin_user)
median, _p95 = latency_ms(lambda i: console.get("/admin/members/member/"), size["admin_requests"], warmup=2)
report.figure("admin member list, median", median, "ms", "< 300 ms", median < 300)
median, _p95 = latency_ms(
    lambda i: console.get("/admin/members/member/", {"q": phones[sample[i]]}), size["admin_requests"], warmup=2
)
report.figure("admin phone search, median", median, "ms", "< 300 ms", median < 300)
report.print()
