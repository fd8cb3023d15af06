"""Campaigns at scale: materialise a day's journey touches over 1,000,000 members, hand a broadcast to
the outbox, and dispatch through the fake WeChat server with two worker processes.

python bench/campaigns.py --scale full    # 1,000,000 members, 20,000 messages dispatched
python bench/campaigns.py --scale smoke   # 3,000 members, 300 messages; what CI runs
python bench/campaigns.py --scale full --dispatch-only   # the dispatch again, on the last run's outbox
"""

from harness import ROOT, Report, copy_rows, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {
    "smoke": {"members": 3_000, "messages": 300},
    "full": {"members": 1_000_000, "messages": 20_000},
}

args = parse_args(
    __doc__,
    lambda p: p.add_argument(
        "--dispatch-only", action="store_true", help="reuse the outbox of the last run; time only the dispatch"
    ),
)
setup_django("retail_bench_campaigns")

import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import timedelta  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.campaigns.broadcasts import broadcast_materialise  # noqa: E402
from apps.campaigns.journeys import journeys_materialise  # noqa: E402
from apps.campaigns.models import Broadcast, BroadcastVariant, Journey, JourneyStep, OutboxMessage  # noqa: E402
from apps.campaigns.services import sending_resume  # noqa: E402
from apps.campaigns.wechat.fake_server import FakeWeChat  # noqa: E402
from apps.insights.models import Segment  # noqa: E402
from apps.stores.models import Channel  # noqa: E402

size = SCALES[args.scale]
n, n_messages = size["members"], size["messages"]
report = Report(f"campaigns, {n:,} members ({args.scale})")


def materialise_and_broadcast() -> None:
    """Load the members, materialise a day's journey touches (also twice at once), hand a broadcast over."""
    truncate(
        "campaigns_outboxmessage",
        "campaigns_broadcastaudience",
        "campaigns_broadcastvariant",
        "campaigns_broadcast",
        "campaigns_journeystep",
        "campaigns_journey",
        "orders_order",
        "members_consent",
        "members_identity",
        "members_member",
    )
    sending_resume()
    rng = random.Random(8)
    now = timezone.now()
    channel = Channel.objects.get_or_create(code="pos", defaults={"name": "POS", "kind": "pos"})[0]

    # -- data: members joined over two years, 70% reachable on WeChat, half with a purchase in the last year -----
    with timer() as elapsed:
        copy_rows(
            "members_member",
            ["code", "phone", "name", "birthday", "joined_at", "status", "points_balance", "created_at"],
            (
                (
                    f"B{i:011d}",
                    None,
                    f"Member {i}",
                    (now - timedelta(days=rng.randrange(18 * 365, 65 * 365))).date() if i % 5 else None,
                    now - timedelta(days=rng.randrange(0, 730), seconds=rng.randrange(86400)),
                    "active",
                    0,
                    now,
                )
                for i in range(n)
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM members_member ORDER BY id")
            ids = [r[0] for r in cursor.fetchall()]
        reachable = [pk for pk in ids if pk % 10 < 7]
        copy_rows(
            "members_identity",
            ["member_id", "kind", "value", "created_at"],
            ((pk, "wechat_openid", f"oBench{pk:010d}", now) for pk in reachable),
        )
        copy_rows(
            "members_consent",
            ["member_id", "channel", "granted", "changed_at", "source"],
            ((pk, "wechat", True, now, "bench") for pk in reachable),
        )
        copy_rows(
            "orders_order",
            [
                "number",
                "external_id",
                "fingerprint",
                "is_online",
                "status",
                "fulfilment",
                "is_fulfilled",
                "delivery_address",
                "placed_at",
                "is_paid",
                "payment_method",
                "subtotal",
                "discount_total",
                "total",
                "refunded_total",
                "points_earned",
                "coupons_applied",
                "is_historic",
                "created_at",
                "channel_id",
                "member_id",
            ],
            (
                (
                    f"BN{pk:012d}",
                    f"bx{pk}",
                    "",
                    False,
                    "completed",
                    "in_store",
                    True,
                    "",
                    now - timedelta(days=rng.randrange(0, 365), seconds=rng.randrange(86400)),
                    True,
                    "",
                    "100.00",
                    "0.00",
                    "100.00",
                    "0.00",
                    0,
                    "[]",
                    True,
                    now,
                    channel.pk,
                    pk,
                )
                for pk in ids
                if pk % 2
            ),
        )
        vacuum_analyze("members_member", "members_identity", "members_consent", "orders_order")
    report.figure("load members, identities, consent, orders (COPY)", elapsed(), "s")

    # -- journeys: welcome 3/7/15/30, win-back, birthday, first purchase -------------------------------------------
    content = {"action": "subscribe", "template_id": "TPL", "content": "thing1: Hi {name}"}
    journeys = [
        ("welcome", "joined", None, [3, 7, 15, 30]),
        ("winback", "no_purchase", 60, [0, 14]),
        ("birthday", "birthday", None, [0]),
        ("first", "first_purchase", None, [1]),
    ]
    for code, trigger, days, offsets in journeys:
        journey = Journey.objects.create(code=code, name=code, trigger=trigger, trigger_days=days, catch_up_days=0)
        for offset in offsets:
            JourneyStep.objects.create(journey=journey, offset=offset, **content)
    JourneyStep.objects.create(
        journey=Journey.objects.get(code="welcome"),
        offset=2,
        unit="months",
        condition="not_bought_since_trigger",
        **content,
    )

    with timer() as elapsed:
        made = journeys_materialise(now=now)
    first_seconds = elapsed()
    touches = sum(made.values())
    with timer() as elapsed:
        again = journeys_materialise(now=now)
    rerun_seconds = elapsed()
    assert sum(again.values()) == 0, again

    # Two runs at once (beat fired twice): nothing is made twice.
    OutboxMessage.objects.all().delete()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(sum(journeys_materialise(now=now).values()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    with timer() as elapsed:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    concurrent_seconds = elapsed()
    report.figure("journey touches due today", touches, "rows")
    report.figure("materialise a day's journey touches", first_seconds, "s", "< 10 s", first_seconds < 10)
    report.figure("run it again (nothing new)", rerun_seconds, "s")
    report.figure("two runs at once: wall time", concurrent_seconds, "s")
    report.figure(
        "two runs at once: touches made (== one run)",
        sum(results),
        "rows",
        f"{touches}",
        sum(results) == touches == OutboxMessage.objects.count(),
    )

    # -- a broadcast to everyone reachable, 10% holdout, two variants ----------------------------------------------
    segment = Segment.objects.get_or_create(code="bench-all", defaults={"name": "Everyone"})[0]
    broadcast = Broadcast.objects.create(
        code="bench", name="Bench", segment=segment, send_at=now, holdout_percent=10, status="scheduled"
    )
    for label in "AB":
        BroadcastVariant.objects.create(broadcast=broadcast, label=label, **content)
    with timer() as elapsed:
        handed = broadcast_materialise(broadcast=broadcast, now=now)
    broadcast_seconds = elapsed()
    report.figure(f"broadcast: audience frozen + {handed:,} touches into the outbox", broadcast_seconds, "s")


if not args.dispatch_only:
    materialise_and_broadcast()
sending_resume()
now = timezone.now()

# -- dispatch: two worker processes against the fake WeChat server ---------------------------------------------
fake = FakeWeChat(
    app_id=settings.WECHAT_APP_ID,
    app_secret=settings.WECHAT_APP_SECRET,
    corp_id=settings.WECOM_CORP_ID,
    corp_secret=settings.WECOM_SECRET,
).start()
far = now + timedelta(days=365)
with connection.cursor() as cursor:
    # The first n_messages touches (journeys', then the broadcast's) go out now; the rest wait.
    cursor.execute("UPDATE campaigns_outboxmessage SET next_attempt_at = %s", [far])
    cursor.execute(
        "UPDATE campaigns_outboxmessage SET next_attempt_at = %s, status = 'pending', attempts = 0, "
        "sent_at = NULL, sending_at = NULL, msgid = '', reason = '', claimed_by = '' WHERE id IN "
        "(SELECT id FROM campaigns_outboxmessage ORDER BY id LIMIT %s)",
        [now - timedelta(seconds=1), n_messages],
    )
    due = cursor.rowcount
env = {
    **os.environ,
    "WECHAT_API_BASE_URL": fake.base_url,
    "WECOM_API_BASE_URL": fake.base_url,
    "CAMPAIGN_QUIET_HOURS": "0-0",
    "CAMPAIGN_MAX_PER_DAY": "100",
    "CAMPAIGN_MAX_PER_WEEK": "100",
    "LOG_LEVEL": "WARNING",
    "OUTBOX_SEND_CONCURRENCY": os.environ.get("OUTBOX_SEND_CONCURRENCY", "8"),
}
try:  # share the token through Redis (db 5) when it is there, as production does
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/5", socket_connect_timeout=0.5).ping()
    env["CACHE_URL"] = "redis://127.0.0.1:6379/5"
except Exception:  # noqa: BLE001
    pass
command = [sys.executable, "manage.py", "outbox_dispatch", "--batch-size", "200", "--max-batches", "100000"]
start = time.perf_counter()
workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
for worker in workers:
    worker.wait()
dispatch_seconds = time.perf_counter() - start
messages = fake.messages()
received = [m["to"][0] for m in messages]
fake.stop()
sent = OutboxMessage.objects.filter(status="sent").count()
settled = OutboxMessage.objects.filter(status__in=["sent", "skipped"], next_attempt_at__lt=far).count()
span = max(messages[-1]["at"] - messages[0]["at"], 1e-6) if messages else 1e-6
rate = (len(messages) - 1) / span
report.figure("messages sent (2 worker processes)", sent, "msgs")
report.figure("due touches settled (sent, or skipped by their condition)", settled, "rows", f"{due}", settled == due)
report.figure("dispatch rate, first to last message", rate, "msg/s", ">= 300 msg/s", rate >= 300)
report.figure("dispatch wall time incl. starting both processes", dispatch_seconds, "s")
# A member may have a journey touch and the broadcast: compare per recipient with the rows marked sent.
expected = Counter(OutboxMessage.objects.filter(status="sent").values_list("recipient", flat=True))
doubled = sum((Counter(received) - expected).values())
report.figure("messages received more often than rows marked sent", doubled, "", "0", doubled == 0)
report.figure("access token fetches (shared cache)", fake.state.stable_token_fetches, "")
report.print()
