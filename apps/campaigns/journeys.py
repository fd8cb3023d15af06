"""Journeys: turn what is due today into outbox rows, set-based, exactly once per touch.

One ``INSERT ... SELECT ... ON CONFLICT (touch_key) DO NOTHING`` per active step (runs at the same time
take turns per step under an advisory lock, see ``journey_step_materialise``). The touch key is
``j:<step>:<member>:<occurrence>`` where the occurrence is the day the trigger happened (the join day,
this year's birthday, the day a member lapsed, the expiry day), so however often or concurrently the
periodic task runs, a member gets a step once per occurrence: a yearly birthday once a year.

A step is due on ``occurrence + offset``. Each run covers the due days from ``today - catch_up_days``
to today, so a missed run (beat down for a day) is caught up, and nothing older floods out when a
journey is created.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.core.dates import local_midnight
from apps.insights.clv.models import MemberClv
from apps.loyalty.models import Coupon, PointsLot, WalletEntry
from apps.members.models import Consent, Identity, Member, Tier, TierChange, WeComContact
from apps.orders.models import Order
from apps.stores.models import Staff

from .models import Action, Journey, JourneyStep, OutboxMessage

#: Rows of a paused journey or broadcast wait with this due time until it is resumed.
PAUSED_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DueWindow:
    """The trigger days whose touch falls due in the window being materialised (inclusive)."""

    trigger_from: date
    trigger_to: date


def _day_start(day: date) -> datetime:
    return local_midnight(day)


def business_today(now: datetime) -> date:
    return timezone.localtime(now).date()


def due_window(*, step: JourneyStep, today: date, catch_up_days: int) -> DueWindow:
    due_from = today - timedelta(days=catch_up_days)
    if step.unit == JourneyStep.Unit.MONTHS:
        return DueWindow(due_from - relativedelta(months=step.offset), today - relativedelta(months=step.offset))
    return DueWindow(due_from - timedelta(days=step.offset), today - timedelta(days=step.offset))


# -- SQL fragments -------------------------------------------------------------------------------------------


def local_date(column: str, *, plus_days: int = 0) -> tuple[str, list]:
    """SQL for the business-time-zone date of ``column`` (+ ``plus_days``)."""
    return f"(({column} AT TIME ZONE %s)::date + %s)", [settings.TIME_ZONE, plus_days]


def json_occurrence(column: str) -> str:
    return f"jsonb_build_object('occurred_on', {column}::text)"


def empty_json() -> str:
    return "'{}'::jsonb"


# -- the trigger of each kind, as SQL selecting (member_id, occurred_on) -------------------------------------


def _trigger_sql(journey: Journey, window: DueWindow) -> tuple[str, list]:
    lo, hi = _day_start(window.trigger_from), _day_start(window.trigger_to + timedelta(days=1))
    m, o = Member._meta.db_table, Order._meta.db_table
    T = Journey.Trigger
    if journey.trigger == T.JOINED:
        day, day_params = local_date("joined_at")
        return (
            f"SELECT id AS member_id, {day} AS occurred_on FROM {m} WHERE joined_at >= %s AND joined_at < %s",
            [*day_params, lo, hi],
        )
    if journey.trigger == T.FIRST_PURCHASE:
        day, day_params = local_date("MIN(o.placed_at)")
        return (
            f"SELECT o.member_id, {day} AS occurred_on FROM {o} o "
            f"WHERE o.member_id IS NOT NULL AND o.placed_at >= %s AND o.placed_at < %s "
            f"AND NOT EXISTS (SELECT 1 FROM {o} p WHERE p.member_id = o.member_id AND p.placed_at < %s) "
            f"GROUP BY o.member_id",
            [*day_params, lo, hi, lo],
        )
    if journey.trigger == T.NO_PURCHASE:
        # Lapsed on day D: the last purchase was on D - N and nothing since.
        n = journey.trigger_days or 0
        day, day_params = local_date("MAX(o.placed_at)", plus_days=n)
        since, until = lo - timedelta(days=n), hi - timedelta(days=n)
        return (
            f"SELECT o.member_id, {day} AS occurred_on FROM {o} o "
            f"WHERE o.member_id IS NOT NULL AND o.placed_at >= %s AND o.placed_at < %s "
            f"AND NOT EXISTS (SELECT 1 FROM {o} p WHERE p.member_id = o.member_id AND p.placed_at >= %s) "
            f"GROUP BY o.member_id",
            [*day_params, since, until, until],
        )
    if journey.trigger == T.BIRTHDAY:
        pairs: list[tuple[date, str]] = []
        day = window.trigger_from
        while day <= window.trigger_to:
            pairs.append((day, f"{day:%m-%d}"))
            if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
                pairs.append((day, "02-29"))  # 29 February birthdays are wished on the 28th
            day += timedelta(days=1)
        days = " UNION ALL ".join(["SELECT %s AS day, %s AS md"] * len(pairs))
        month_day = "to_char(m.birthday, 'MM-DD')"
        return (
            f"SELECT m.id AS member_id, d.day AS occurred_on FROM {m} m JOIN ({days}) d ON {month_day} = d.md "
            f"WHERE m.birthday IS NOT NULL",
            [value for pair in pairs for value in pair],
        )
    if journey.trigger == T.TIER_UPGRADE:
        tc, t = TierChange._meta.db_table, Tier._meta.db_table
        day, day_params = local_date("tc.changed_at")
        return (
            f"SELECT DISTINCT tc.member_id, {day} AS occurred_on FROM {tc} tc "
            f"JOIN {t} tt ON tt.id = tc.to_tier_id JOIN {t} ft ON ft.id = tc.from_tier_id "
            f"WHERE tc.changed_at >= %s AND tc.changed_at < %s AND tt.rank > ft.rank",
            [*day_params, lo, hi],
        )
    if journey.trigger in {T.POINTS_EXPIRING, T.COUPON_EXPIRING}:
        day, day_params = local_date("expires_at")
        if journey.trigger == T.POINTS_EXPIRING:
            source = f"{PointsLot._meta.db_table} WHERE remaining > 0"
        else:
            source = f"{Coupon._meta.db_table} WHERE status = 'issued' AND member_id IS NOT NULL"
        return (
            f"SELECT DISTINCT member_id, {day} AS occurred_on FROM {source} AND expires_at >= %s AND expires_at < %s",
            [*day_params, lo, hi],
        )
    if journey.trigger == T.P_ALIVE_BELOW:
        # Fell below on the day of the fit that first put it there (the previous fit had it at or above N%).
        threshold = (journey.trigger_days or 0) / 100
        return (
            f"SELECT member_id, as_of AS occurred_on FROM {MemberClv._meta.db_table} "
            f"WHERE p_alive < %s AND p_alive_before >= %s AND as_of >= %s AND as_of <= %s",
            [threshold, threshold, window.trigger_from, window.trigger_to],
        )
    if journey.trigger == T.BALANCE_BELOW:
        # The day an entry took the card from at least X to below X (a payment, an expiry): once per such day.
        day, day_params = local_date("created_at")
        return (
            f"SELECT DISTINCT member_id, {day} AS occurred_on FROM {WalletEntry._meta.db_table} "
            f"WHERE created_at >= %s AND created_at < %s AND balance_after < %s AND balance_after - amount >= %s",
            [*day_params, lo, hi, journey.trigger_amount, journey.trigger_amount],
        )
    raise ValueError(f"unknown trigger {journey.trigger!r}")


def reach_sql(action: str) -> tuple[str, str, str]:
    """(joins, recipient, sender) SQL over member ``m`` for ``action``: WeChat consent and an identity.

    A member without the identity gets a NULL recipient; callers keep only rows with one.
    """
    c, i, s = Consent._meta.db_table, Identity._meta.db_table, Staff._meta.db_table
    consent = f"JOIN {c} c ON c.member_id = m.id AND c.channel = 'wechat' AND c.granted "

    def identity(kind: str) -> str:
        return (
            f"(SELECT MIN(i.value) FROM {i} i WHERE i.member_id = m.id AND i.kind = '{kind}' AND i.channel_id IS NULL)"
        )

    if action in {Action.WECHAT_TEMPLATE, Action.WECHAT_SUBSCRIBE}:
        return consent, identity("wechat_openid"), "''"
    if action == Action.WECOM_GUIDE:
        # The guide sends from their WeCom user id to the external user id of a customer they added in WeCom;
        # NULL when they have not (the row is then kept as skipped, with the reason).
        return (
            consent + f"JOIN {s} g ON g.id = m.recruited_by_id AND g.is_active ",
            f"(SELECT MIN(wc.external_userid) FROM {WeComContact._meta.db_table} wc "
            f"WHERE wc.member_id = m.id AND wc.staff_id = g.id)",
            "g.wecom_userid",
        )
    return "", "m.code", "''"  # a reward without a message reaches everyone


def step_select(step: JourneyStep, *, today: date, now: datetime) -> tuple[str, list]:
    """SQL selecting the step's outbox rows due in its window (the INSERT's SELECT; also counted)."""
    journey = step.journey
    trigger, trigger_params = _trigger_sql(
        journey, due_window(step=step, today=today, catch_up_days=journey.catch_up_days)
    )
    joins, recipient, sender = reach_sql(step.action)
    kind = OutboxMessage.Kind.REWARD if step.action == Action.REWARD_ONLY else step.action
    status, reason, keep = "'pending'", "''", "WHERE x.recipient IS NOT NULL"
    if step.action == Action.WECOM_GUIDE:  # members the guide cannot reach are kept, skipped with why
        status = "CASE WHEN x.recipient IS NULL OR x.sender IS NULL THEN 'skipped' ELSE 'pending' END"
        reason = (
            "CASE WHEN x.sender IS NULL THEN 'guide_has_no_wecom_userid' "
            "WHEN x.recipient IS NULL THEN 'not_added_by_guide_on_wecom' ELSE '' END"
        )
        keep = "WHERE 1 = 1"  # skipped rows are kept too, with their reason
    sql = (
        f"SELECT 'j:' || CAST(%s AS TEXT) || ':' || x.member_id || ':' || x.occurred_on AS touch_key, x.member_id, "
        f"x.join_store_id, %s, COALESCE(x.recipient, ''), COALESCE(x.sender, ''), %s, "
        f"{json_occurrence('x.occurred_on')}, {status} AS status, {reason}, 0, %s, '', '', '', %s, %s "
        f"FROM (SELECT t.member_id, t.occurred_on, m.join_store_id, {recipient} AS recipient, {sender} AS sender "
        f"FROM ({trigger}) t JOIN {Member._meta.db_table} m ON m.id = t.member_id AND m.status = 'active' {joins}) x "
        f"{keep}"
    )
    return sql, [step.pk, kind, step.template_id, now, now, step.pk, *trigger_params]


OUTBOX_COLUMNS = (
    "touch_key, member_id, store_id, kind, recipient, sender_userid, template_id, payload, status, reason, "
    "attempts, next_attempt_at, claimed_by, msgid, last_error, created_at"
)


#: First key of the transaction-scoped advisory lock taken per step while materialising it.
MATERIALISE_LOCK = 0x4A52


@transaction.atomic
def journey_step_materialise(*, step: JourneyStep, now: datetime | None = None) -> int:
    """Insert the step's touches due today (and in the catch-up window) into the outbox; returns new rows.

    Two runs at once (beat fired twice, a manual run) take turns per step: two large ``INSERT ... ON
    CONFLICT`` statements over the same keys in different orders would each wait for the other's
    uncommitted rows and deadlock. The second run then finds every touch made and inserts nothing.
    """
    now = now or timezone.now()
    select, params = step_select(step, today=business_today(now), now=now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MATERIALISE_LOCK, step.pk])
        cursor.execute(
            f"INSERT INTO {OutboxMessage._meta.db_table} ({OUTBOX_COLUMNS}, journey_step_id) {select} "
            f"ON CONFLICT (touch_key) DO NOTHING",
            params,
        )
        return cursor.rowcount


def journey_step_due_count(*, step: JourneyStep, now: datetime | None = None) -> int:
    """How many members the step reaches today (the admin's audience preview); includes ones already made."""
    now = now or timezone.now()
    select, params = step_select(step, today=business_today(now), now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({select}) due WHERE due.status = 'pending'", params)
        return int(cursor.fetchone()[0])


def journeys_materialise(*, now: datetime | None = None) -> dict[str, int]:
    """Every active step of every active journey, one statement each; returns new touches per journey."""
    now = now or timezone.now()
    made: dict[str, int] = {}
    steps = JourneyStep.objects.filter(is_active=True, journey__is_active=True).select_related("journey")
    for step in steps.order_by("journey_id", "id"):
        made[step.journey.code] = made.get(step.journey.code, 0) + journey_step_materialise(step=step, now=now)
    return made


def journey_pause(*, journey: Journey) -> int:
    """Stop a journey: no new touches; its touches not yet sent wait. Returns the touches held back."""
    with transaction.atomic():
        Journey.objects.filter(pk=journey.pk).update(is_active=False)
        return OutboxMessage.objects.filter(journey_step__journey=journey, status=OutboxMessage.Status.PENDING).update(
            next_attempt_at=PAUSED_UNTIL
        )


def journey_resume(*, journey: Journey, now: datetime | None = None) -> int:
    """Resume a journey: held-back touches are due now; missed days are caught up within the window."""
    with transaction.atomic():
        Journey.objects.filter(pk=journey.pk).update(is_active=True)
        return OutboxMessage.objects.filter(
            journey_step__journey=journey, status=OutboxMessage.Status.PENDING, next_attempt_at__gte=PAUSED_UNTIL
        ).update(next_attempt_at=now or timezone.now())
