"""The models' inputs, read from orders as of a date, as the profile defines them (one SQL pass each).

A purchase is a business day with a counted order (``profiles.COUNTED``: not refunded in full), so the
inputs for today equal the profile's BTYD measures, and for a past date (a refit, the holdout check)
they are what the profile said on that day. Frequency = purchase days - 1, recency = days from the first
to the last purchase day, T = days from the first purchase day to the as-of date (inclusive), spend =
mean net spend of the repeat purchase days.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from apps.members.models import Member
from apps.orders.models import Order

from ..profiles import COUNTED

INPUTS_TABLE = "clv_inputs"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def inputs_create(cursor, *, as_of: date, holdout_until: date | None = None) -> None:
    """Fill the temporary table ``clv_inputs`` (member_id, x, t_x, T, m[, holdout]) for every active member
    with a purchase on or before ``as_of``; ``holdout`` counts their purchase days after it up to
    ``holdout_until`` (inclusive)."""
    end = holdout_until or as_of
    cursor.execute(f"DROP TABLE IF EXISTS {INPUTS_TABLE}")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {INPUTS_TABLE} ON COMMIT DROP AS
        WITH days AS (
            SELECT o.member_id, (o.placed_at AT TIME ZONE %(tz)s)::date AS day,
                   sum(o.total - o.refunded_total) AS amount
            FROM {Order._meta.db_table} o
            WHERE o.member_id IS NOT NULL AND o.placed_at < %(until)s AND {COUNTED}
            GROUP BY 1, 2
        ), totals AS (
            SELECT member_id, min(day) AS first_day, max(day) FILTER (WHERE day <= %(as_of)s) AS last_day,
                   count(*) FILTER (WHERE day <= %(as_of)s) AS days,
                   sum(amount) FILTER (WHERE day <= %(as_of)s) AS net,
                   (min(ARRAY[day - DATE '2000-01-01', amount]))[2] AS first_amount,
                   count(*) FILTER (WHERE day > %(as_of)s) AS holdout
            FROM days GROUP BY member_id
        )
        SELECT s.member_id, (s.days - 1)::int AS x, (s.last_day - s.first_day)::int AS t_x,
               (%(as_of)s - s.first_day)::int AS "T",
               -- not rounded to cents as the profile shows it: the spend model sees the exact mean
               CASE WHEN s.days > 1 THEN (s.net - s.first_amount) / (s.days - 1) ELSE 0 END AS m,
               s.holdout::int AS holdout
        FROM totals s JOIN {Member._meta.db_table} mb ON mb.id = s.member_id AND mb.status = 'active'
        WHERE s.first_day <= %(as_of)s
        """,
        {"tz": settings.TIME_ZONE, "until": _midnight(end + timedelta(days=1)), "as_of": as_of},
    )


def triples_read(cursor) -> tuple[list, list, list, list]:
    """The distinct (x, t_x, T) of ``clv_inputs`` and how many members have each."""
    cursor.execute(f'SELECT x, t_x, "T", count(*) FROM {INPUTS_TABLE} GROUP BY 1, 2, 3')
    rows = cursor.fetchall()
    if not rows:
        return [], [], [], []
    x, t_x, T, n = (list(column) for column in zip(*rows, strict=True))
    return x, t_x, T, n


def spends_read(cursor) -> tuple[list, list, list]:
    """The distinct (x, m) of the repeat buyers with a positive spend, and their counts."""
    cursor.execute(f"SELECT x, m, count(*) FROM {INPUTS_TABLE} WHERE x > 0 AND m > 0 GROUP BY 1, 2")
    rows = cursor.fetchall()
    if not rows:
        return [], [], []
    x, m, n = zip(*rows, strict=True)
    return list(x), [float(v) for v in m], list(n)


def first_purchase_day(cursor) -> date | None:
    cursor.execute(
        f"SELECT (min(o.placed_at) AT TIME ZONE %s)::date FROM {Order._meta.db_table} o "
        f"WHERE o.member_id IS NOT NULL AND {COUNTED}",
        [settings.TIME_ZONE],
    )
    return cursor.fetchone()[0]
