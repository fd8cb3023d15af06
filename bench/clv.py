"""Lifetime value models at scale: fitting BG/NBD and Gamma-Gamma and scoring every member, against a bare SQL
aggregate of the same orders (per member: purchase days, first and last day, spend) measured in the same run.

python bench/clv.py --scale full                # 1,000,000 members, about 5,000,000 orders
python bench/clv.py --scale full --members 200000   # a scale that runs in a few minutes on a shared machine
python bench/clv.py --scale smoke               # 2,000 members; what CI runs

Purchase histories are drawn from the models (rates ~ Gamma(0.9, 45 days), dropout ~ Beta(0.5, 3) after each
purchase, spend ~ Gamma-Gamma) over three years, generated with numpy and loaded with COPY.
"""

import numpy as np
from harness import Report, copy_rows, parse_args, setup_django, timer, truncate, vacuum_analyze

SCALES = {"smoke": {"members": 2_000}, "full": {"members": 1_000_000}}
HISTORY_DAYS = 1095


def _extra(parser) -> None:
    parser.add_argument("--members", type=int, default=0, help="override the number of members")
    parser.add_argument("--keep", action="store_true", help="reuse the data of the previous run at this size")


args = parse_args(__doc__, _extra)
setup_django("retail_bench_clv")

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.insights.clv.inputs import INPUTS_TABLE, inputs_create  # noqa: E402
from apps.insights.clv.models import MemberClv  # noqa: E402
from apps.insights.clv.services import _fit_inputs, _members_score, clv_fit  # noqa: E402

n_members = args.members or SCALES[args.scale]["members"]
report = Report(f"lifetime value models, {n_members:,} members ({args.scale})")
TODAY = timezone.localdate()


def simulate(rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(member number, days before today, amount) of every purchase, vectorised over members and steps."""
    steps = 60
    lam = rng.gamma(0.9, 1 / 45.0, n_members)
    p = rng.beta(0.5, 3.0, n_members)
    nu = rng.gamma(3.5, 1 / 60.0, n_members)
    age = rng.integers(1, HISTORY_DAYS, n_members)
    gaps = rng.exponential(1.0, (n_members, steps)) / lam[:, None]
    gaps[:, 0] = 0
    times = np.cumsum(gaps, axis=1)
    dropped = rng.random((n_members, steps)) < p[:, None]
    dropped[:, 0] = False
    # alive at step k if no dropout happened after any of the purchases 1..k-1
    alive = np.cumsum(np.concatenate([np.zeros((n_members, 1), bool), dropped[:, 1:]], axis=1), axis=1) == 0
    keep = alive & (times < age[:, None])
    member, step = np.nonzero(keep)
    days_ago = (age[member] - np.floor(times[member, step])).astype(int)
    amount = np.round(rng.gamma(4.0, 1.0, len(member)) / nu[member], 2) + 1
    return member + 1, days_ago, amount


def generate() -> int:
    truncate("insights_memberclv", "insights_clvmodel", "orders_orderline", "orders_order", "members_member",
             "stores_channel")  # fmt: skip
    rng = np.random.default_rng(42)
    member, days_ago, amount = simulate(rng)
    with connection.cursor() as c:
        c.execute("SET session_replication_role = replica")
        c.execute("INSERT INTO stores_channel (code, name, kind, is_active) VALUES ('pos', 'POS', 'pos', true)")
        c.execute(
            "INSERT INTO members_member (code, phone, name, joined_at, status, points_balance, created_at, tier_since) "
            "SELECT 'M' || lpad(i::text, 9, '0'), NULL, 'Member ' || i, now() - interval '1200 days', 'active', 0, "
            "now(), now() FROM generate_series(1::bigint, %s::bigint) i",
            [n_members],
        )
        c.execute("CREATE TEMPORARY TABLE bench_purchases (member_no bigint, days_ago int, amount numeric(14, 2))")
    rows = copy_rows("bench_purchases", ["member_no", "days_ago", "amount"],
                     zip(member.tolist(), days_ago.tolist(), amount.tolist(), strict=True))  # fmt: skip
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO orders_order (number, channel_id, external_id, fingerprint, member_id, is_online, status,
                fulfilment, is_fulfilled, delivery_address, placed_at, is_paid, payment_method, subtotal,
                discount_total, total, refunded_total, points_earned, coupons_applied, is_historic, created_at)
            SELECT 'B' || lpad(n::text, 10, '0'), ch.id, 'x' || n, '', mm.lo + b.member_no - 1, false, 'completed',
                   'in_store', true, '', (%s::date - b.days_ago) + time '12:00' AT TIME ZONE 'Asia/Shanghai', true,
                   '', b.amount, 0, b.amount, 0, 0, '[]', true, now()
            FROM (SELECT *, row_number() OVER () AS n FROM bench_purchases) b,
                 (SELECT min(id) lo FROM members_member) mm, (SELECT min(id) id FROM stores_channel) ch
            """,
            [TODAY],
        )
        c.execute("DROP TABLE bench_purchases")
        c.execute("SET session_replication_role = DEFAULT")
    vacuum_analyze("members_member", "orders_order")
    return rows


def bare_aggregate() -> int:
    """The baseline: the same orders grouped per member and day, then per member (no model, no write)."""
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
        c.execute(
            """
            SELECT count(*), sum(days) FROM (
                SELECT member_id, count(*) AS days, min(day), max(day), sum(amount) FROM (
                    SELECT member_id, (placed_at AT TIME ZONE 'Asia/Shanghai')::date AS day, sum(total) AS amount
                    FROM orders_order WHERE member_id IS NOT NULL GROUP BY 1, 2
                ) d GROUP BY member_id
            ) s
            """
        )
        return c.fetchone()[0]


existing = 0
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM members_member")
    existing = cursor.fetchone()[0]
if args.keep and existing == n_members:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_order")
        n_orders = cursor.fetchone()[0]
else:
    with timer() as elapsed:
        n_orders = generate()
    report.figure("generate and load (numpy + COPY)", elapsed(), "s")
print(f"{n_members:,} members, {n_orders:,} orders", flush=True)

with timer() as elapsed:
    bare_aggregate()
baseline = elapsed()
report.figure("bare SQL aggregate of the same orders (baseline)", baseline, "s")

# The steps of one fit, timed one by one (the same functions clv_fit runs, in one transaction).
with transaction.atomic(), connection.cursor() as cursor:
    cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
    with timer() as elapsed:
        inputs_create(cursor, as_of=TODAY)
    inputs_s = elapsed()
    with timer() as elapsed:
        fit, triples = _fit_inputs(cursor)
    fit_s = elapsed()
    with timer() as elapsed:
        _members_score(cursor, fit=fit, triples=triples, as_of=TODAY)
    score_s = elapsed()
    cursor.execute(f"DROP TABLE {INPUTS_TABLE}")
    transaction.set_rollback(True)
report.figure("distinct (x, t_x, T) triples", len(triples[0]), "")
report.figure("inputs: one pass over the orders", inputs_s, "s")
report.figure("fit BG/NBD + Gamma-Gamma (numpy/scipy)", fit_s, "s", "< 30 s", fit_s < 30)
report.figure(
    "fit incl. inputs / baseline", (inputs_s + fit_s) / baseline, "x", "<= 5x", (inputs_s + fit_s) / baseline <= 5
)
report.figure("score every member (3 statements)", score_s, "s", "< 30 s", score_s < 30)
report.figure("scoring / baseline", score_s / baseline, "x", "<= 5x", score_s / baseline <= 5)

with timer() as elapsed, CaptureQueriesContext(connection) as queries:
    model = clv_fit(as_of=TODAY)
total = elapsed()
report.figure("clv_fit end to end (incl. 13-week holdout refit)", total, "s")
report.figure("clv_fit / baseline", total / baseline, "x")
report.figure("clv_fit queries", len(queries.captured_queries), "")
assert MemberClv.objects.count() == model.members
print(f"r={model.r:.3f} alpha={model.alpha:.1f} a={model.a:.3f} b={model.b:.3f} p={model.p:.2f} q={model.q:.2f} "
      f"v={model.v:.1f} (simulated with r=0.9 alpha=45 a=0.5 b=3.0 p=4 q=3.5 v=60)")  # fmt: skip
report.print()
