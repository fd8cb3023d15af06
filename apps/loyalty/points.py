"""The points ledger: earn, redeem, reverse, adjust, expire, merge.

Invariants: entries are append-only; ``Member.points_balance`` equals the sum of the member's entries
and never goes below zero; every booking has a unique idempotency key, so a retried request or task
books once. Locking: a booking locks the member row first (``FOR NO KEY UPDATE``), then that member's
lots oldest first; expiry locks the members it touches in id order before touching lots, so the two
never deadlock and a redemption never races an expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.core.dates import local_midnight
from apps.core.db import require_transaction
from apps.members.models import Member

from .errors import InsufficientPoints, InvalidPoints
from .models import PointsEntry, PointsLot

K = PointsEntry.Kind


def _month_start(at: datetime) -> date:
    return timezone.localtime(at).date().replace(day=1)


def lot_expiry(earned_month: date) -> datetime:
    """End of the Nth month after the month of earning (N = settings.POINTS_EXPIRY_MONTHS, default 12)."""
    months = earned_month.year * 12 + earned_month.month - 1 + settings.POINTS_EXPIRY_MONTHS + 1
    first_after = date(months // 12, months % 12 + 1, 1)
    return local_midnight(first_after)


def _points(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidPoints(f"{value!r} is not a positive whole number of points.")
    return value


def _lock_member(member_id: int) -> Member:
    return Member.objects.select_for_update(no_key=True).only("id", "points_balance").get(pk=member_id)


def _existing(key: str) -> PointsEntry | None:
    return PointsEntry.objects.filter(idempotency_key=key).first()


def _entry(member: Member, *, kind: str, points: int, reference: str, key: str, at: datetime, **extra) -> PointsEntry:
    member.points_balance += points
    Member.objects.filter(pk=member.pk).update(points_balance=member.points_balance)
    return PointsEntry.objects.create(
        member_id=member.pk,
        kind=kind,
        points=points,
        balance_after=member.points_balance,
        reference=reference[:100],
        idempotency_key=key,
        created_at=at,
        **extra,
    )


def _add_to_lot(member_id: int, points: int, at: datetime) -> None:
    month = _month_start(at)
    table = PointsLot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, earned_month, expires_at, points, remaining) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (member_id, earned_month) DO UPDATE SET points = {table}.points + excluded.points, "
            f"remaining = {table}.remaining + excluded.remaining",
            [member_id, month, lot_expiry(month), points, points],
        )


def _take_from_lots(member_id: int, points: int, at: datetime) -> None:
    """Consume ``points`` from the member's unexpired lots, oldest first (the member row is locked)."""
    left = points
    lots = PointsLot.objects.filter(member_id=member_id, remaining__gt=0, expires_at__gt=at).order_by(
        "expires_at", "pk"
    )
    for lot in lots.select_for_update():
        take = min(left, lot.remaining)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - take)
        left -= take
        if left == 0:
            return
    if left:  # lots that are due but not yet expired by the task still count for the balance
        for lot in PointsLot.objects.filter(member_id=member_id, remaining__gt=0).order_by("expires_at", "pk"):
            take = min(left, lot.remaining)
            PointsLot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - take)
            left -= take
            if left == 0:
                return


@transaction.atomic
def points_earn(
    *, member_id: int, points: int, reference: str, idempotency_key: str, at: datetime | None = None
) -> PointsEntry:
    """Book earned points once per key; they expire with the month they were earned in."""
    at, points = at or timezone.now(), _points(points)
    member = _lock_member(member_id)
    if existing := _existing(idempotency_key):
        return existing
    _add_to_lot(member_id, points, at)
    return _entry(member, kind=K.EARN, points=points, reference=reference, key=idempotency_key, at=at)


def points_earn_in_transaction(
    *, member_id: int, points: int, reference: str, idempotency_key: str, at: datetime | None = None
) -> None:
    """``points_earn`` inside the caller's transaction, which already holds the member row lock
    (``FOR NO KEY UPDATE``) and rolls back whole on any error: no savepoint, and the key
    check, lot, balance and entry are one statement. The same key again books nothing."""
    require_transaction("points_earn_in_transaction")
    at, points = at or timezone.now(), _points(points)
    month = _month_start(at)
    lots, members, entries = PointsLot._meta.db_table, Member._meta.db_table, PointsEntry._meta.db_table
    with connection.cursor() as cursor:
        # The member row is locked, so the key check sees every earlier booking for this member.
        cursor.execute(
            f"WITH fresh AS (SELECT NOT EXISTS (SELECT 1 FROM {entries} WHERE idempotency_key = %(key)s) AS ok), "
            f"lot AS (INSERT INTO {lots} (member_id, earned_month, expires_at, points, remaining) "
            f"SELECT %(member)s, %(month)s, %(expires)s, %(points)s, %(points)s FROM fresh WHERE fresh.ok "
            f"ON CONFLICT (member_id, earned_month) DO UPDATE SET points = {lots}.points + excluded.points, "
            f"remaining = {lots}.remaining + excluded.remaining), "
            f"bal AS (UPDATE {members} SET points_balance = points_balance + %(points)s "
            f"WHERE id = %(member)s AND (SELECT ok FROM fresh) RETURNING points_balance) "
            f"INSERT INTO {entries} (member_id, kind, points, balance_after, reference, idempotency_key, reason, "
            f"shortfall, created_at) "
            f"SELECT %(member)s, %(kind)s, %(points)s, bal.points_balance, %(reference)s, %(key)s, '', 0, %(at)s "
            f"FROM bal",
            {
                "key": idempotency_key,
                "member": member_id,
                "month": month,
                "expires": lot_expiry(month),
                "points": points,
                "kind": K.EARN,
                "reference": reference[:100],
                "at": at,
            },
        )


@transaction.atomic
def points_redeem(
    *, member_id: int, points: int, reference: str, idempotency_key: str, at: datetime | None = None
) -> PointsEntry:
    """Spend points, oldest first; refuse (and change nothing) when the balance is too low."""
    at, points = at or timezone.now(), _points(points)
    member = _lock_member(member_id)
    if existing := _existing(idempotency_key):
        return existing
    if member.points_balance < points:
        raise InsufficientPoints(f"The member has {member.points_balance} points; {points} are needed.")
    _take_from_lots(member_id, points, at)
    return _entry(member, kind=K.REDEEM, points=-points, reference=reference, key=idempotency_key, at=at)


@transaction.atomic
def points_reverse(
    *, member_id: int, points: int, reference: str, idempotency_key: str, at: datetime | None = None
) -> PointsEntry:
    """Take back points earned on a refunded purchase: at most the balance; the rest is recorded as shortfall."""
    at, points = at or timezone.now(), _points(points)
    member = _lock_member(member_id)
    if existing := _existing(idempotency_key):
        return existing
    taken = min(points, member.points_balance)
    if taken:
        _take_from_lots(member_id, taken, at)
    return _entry(
        member, kind=K.REVERSE, points=-taken, reference=reference, key=idempotency_key, at=at, shortfall=points - taken
    )


@transaction.atomic
def points_adjust(
    *, member_id: int, points: int, reason: str, user, idempotency_key: str, at: datetime | None = None
) -> PointsEntry:
    """An operator's correction (signed), with a reason and the operator recorded; never below zero."""
    at = at or timezone.now()
    if not reason.strip():
        raise InvalidPoints("An adjustment needs a reason.")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidPoints("An adjustment is a non-zero whole number of points.")
    member = _lock_member(member_id)
    if existing := _existing(idempotency_key):
        return existing
    if points > 0:
        _add_to_lot(member_id, points, at)
    else:
        if member.points_balance < -points:
            raise InsufficientPoints(f"The member has only {member.points_balance} points.")
        _take_from_lots(member_id, -points, at)
    return _entry(
        member,
        kind=K.ADJUST,
        points=points,
        reference="operator",
        key=idempotency_key,
        at=at,
        reason=reason.strip()[:255],
        created_by=user,
    )


@dataclass(frozen=True)
class ExpiryResult:
    members: int
    points: int


@transaction.atomic
def points_expire_due(*, now: datetime | None = None) -> ExpiryResult:
    """Expire every lot due by ``now`` for all members in a few set-based statements.

    A due lot's leftover is booked as one ``expire`` entry per member and the lot is deleted: lots hold only
    points still to spend (the ledger is the history), so the table stays a year of lots deep and expiring
    writes no index entries for it.
    """
    now = now or timezone.now()
    lots, members, entries = PointsLot._meta.db_table, Member._meta.db_table, PointsEntry._meta.db_table
    stamp = timezone.localtime(now).strftime("%Y%m%d%H%M%S")
    entry_columns = "member_id, kind, points, balance_after, reference, idempotency_key, reason, shortfall, created_at"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS points_due")
        # Lock the members first, in id order, as every booking does; then their lots cannot change under us.
        cursor.execute(
            f"SELECT 1 FROM {members} WHERE id IN (SELECT DISTINCT member_id FROM {lots} "
            f"WHERE remaining > 0 AND expires_at <= %s) ORDER BY id FOR NO KEY UPDATE",
            [now],
        )
        cursor.execute("SET LOCAL work_mem = '256MB'")  # sort a million entries in memory
        cursor.execute("CREATE TEMPORARY TABLE points_due (member_id bigint, points bigint) ON COMMIT DROP")
        cursor.execute(
            f"WITH gone AS (DELETE FROM {lots} WHERE expires_at <= %s RETURNING member_id, remaining) "
            f"INSERT INTO points_due SELECT member_id, SUM(remaining) FROM gone GROUP BY member_id "
            f"HAVING SUM(remaining) > 0",
            [now],
        )
        # The balances and the entries in one statement, the entries in member order (the member index grows
        # front to back) with keys that sort in member order too (the key index grows at its right edge).
        cursor.execute(
            f"WITH bal AS (UPDATE {members} m SET points_balance = m.points_balance - d.points FROM points_due d "
            f"WHERE m.id = d.member_id RETURNING m.id, m.points_balance, d.points) "
            f"INSERT INTO {entries} ({entry_columns}) SELECT id, 'expire', -points, points_balance, 'expiry', "
            f"'expire:{stamp}:' || lpad(id::text, 12, '0'), '', 0, %s FROM bal ORDER BY id",
            [now],
        )
        cursor.execute("SELECT COUNT(*), COALESCE(SUM(points), 0) FROM points_due")
        count, total = cursor.fetchone()
        cursor.execute("DROP TABLE IF EXISTS points_due")
    return ExpiryResult(members=int(count), points=int(total))


def points_merge(*, survivor_id: int, merged_id: int) -> dict[str, int]:
    """Merge hook: the merged member's points and lots move to the survivor (both entries recorded)."""
    now = timezone.now()
    merged = _lock_member(merged_id)
    survivor = _lock_member(survivor_id)
    moving = merged.points_balance
    if moving:
        table = PointsLot._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (member_id, earned_month, expires_at, points, remaining) "
                f"SELECT %s, earned_month, expires_at, remaining, remaining FROM {table} "
                f"WHERE member_id = %s AND remaining > 0 "
                f"ON CONFLICT (member_id, earned_month) DO UPDATE SET points = {table}.points + excluded.points, "
                f"remaining = {table}.remaining + excluded.remaining",
                [survivor_id, merged_id],
            )
            cursor.execute(f"UPDATE {table} SET remaining = 0 WHERE member_id = %s", [merged_id])
        key = f"merge:{merged_id}:into:{survivor_id}"
        _entry(merged, kind=K.MERGE_OUT, points=-moving, reference=f"member {survivor_id}", key=key + ":out", at=now)
        _entry(survivor, kind=K.MERGE_IN, points=moving, reference=f"member {merged_id}", key=key + ":in", at=now)
    return {"points": moving}


def ledger_mismatches(*, limit: int = 100) -> list[tuple[int, str, int, int]]:
    """Members whose stored balance differs from their ledger's sum (should be none), in one query."""
    members, entries = Member._meta.db_table, PointsEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id, m.code, m.points_balance, COALESCE(e.total, 0) FROM {members} m "
            f"LEFT JOIN (SELECT member_id, SUM(points) AS total FROM {entries} GROUP BY member_id) e "
            f"ON e.member_id = m.id WHERE m.points_balance <> COALESCE(e.total, 0) ORDER BY m.id LIMIT %s",
            [limit],
        )
        return cursor.fetchall()
