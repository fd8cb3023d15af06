"""Sending the outbox: claim due rows, send each through WeChat once, record what happened.

Exactly-once policy. A dispatcher claims a batch (``FOR UPDATE SKIP LOCKED``, committed), then for each
row marks it ``sending`` (committed) just before the request and records the outcome right after. A
worker that dies leaves rows ``claimed`` (never sent: the sweeper returns them to pending) or at most
one row ``sending`` per sending thread (WeChat may have it: the sweeper marks it ``in_doubt`` for an
operator and never resends it). Celery's own acks are not relied on (a killed worker's task is acked
anyway). A dispatcher keeps up to ``OUTBOX_SEND_CONCURRENCY`` requests in flight (threads, each with
its own connection): WeChat's latency, not our CPU, bounds a sender.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from .models import OutboxMessage, SendingControl
from .preparation import content_sources, touches_check, touches_prepare
from .wechat.client import SendResult, WeChatSender

logger = logging.getLogger(__name__)
S = OutboxMessage.Status


@dataclass
class DispatchStats:
    claimed: int = 0
    outcomes: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        return f"claimed {self.claimed}: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sending_control() -> SendingControl:
    control, _created = SendingControl.objects.get_or_create(pk=1)
    return control


def sending_pause(*, reason: str) -> None:
    """The kill switch: stop all outreach at once (the dispatcher checks it before every batch)."""
    SendingControl.objects.update_or_create(pk=1, defaults={"is_paused": True, "reason": reason[:255]})


def sending_resume() -> None:
    SendingControl.objects.update_or_create(pk=1, defaults={"is_paused": False, "reason": ""})


def quiet_hours() -> tuple[int, int]:
    start, _, end = settings.CAMPAIGN_QUIET_HOURS.partition("-")
    return int(start), int(end)


def quiet_until(*, now: datetime, tz_name: str) -> datetime | None:
    """When the store's quiet hours end, if ``now`` falls inside them; else None."""
    start, end = quiet_hours()
    if start == end:
        return None
    local = now.astimezone(ZoneInfo(tz_name))
    hour = local.hour
    inside = start <= hour or hour < end if start > end else start <= hour < end
    if not inside:
        return None
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake


def backoff_seconds(*, attempts: int, result: SendResult) -> int:
    """Exponential backoff from 30 s, at least what WeChat's answer asks for, at most 6 hours."""
    return min(6 * 3600, max(result.retry_after_seconds, 30 * 2 ** max(0, attempts - 1)))


def outbox_claim(*, batch_size: int, worker: str, now: datetime | None = None) -> list[int]:
    """Claim up to ``batch_size`` due rows for this worker; concurrent dispatchers get disjoint rows."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=S.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if ids:
            OutboxMessage.objects.filter(id__in=ids).update(status=S.CLAIMED, claimed_at=now, claimed_by=worker)
    return ids


def _sent_counts(member_ids: list[int], now: datetime) -> tuple[dict[int, int], dict[int, int]]:
    rows = (
        OutboxMessage.objects.filter(member_id__in=member_ids, sent_at__gte=now - timedelta(days=7))
        .values("member_id")
        .annotate(week=Count("id"), day=Count("id", filter=Q(sent_at__gte=now - timedelta(days=1))))
    )
    return {r["member_id"]: r["day"] for r in rows}, {r["member_id"]: r["week"] for r in rows}


def _send(sender: WeChatSender, row: OutboxMessage) -> SendResult:
    payload = row.payload or {}
    if row.kind == OutboxMessage.Kind.TEMPLATE:
        return sender.send_template(
            openid=row.recipient, template_id=row.template_id, data=payload.get("data", {}), url=payload.get("url")
        )
    if row.kind == OutboxMessage.Kind.SUBSCRIBE:
        return sender.send_subscribe(
            openid=row.recipient, template_id=row.template_id, data=payload.get("data", {}), page=payload.get("page")
        )
    if row.kind == OutboxMessage.Kind.CUSTOM:
        return sender.send_custom_text(openid=row.recipient, text=payload.get("text", ""))
    return sender.wecom_add_msg_template(
        sender_userid=row.sender_userid, external_userid=row.recipient, text=payload.get("text", "")
    )


def _finish(row: OutboxMessage, result: SendResult, now: datetime) -> str:
    """Record a send's outcome on its row; returns the row's new status."""
    fields = {"last_errcode": result.errcode, "last_error": result.errmsg[:255], "claimed_by": ""}
    attempts = row.attempts + 1
    if result.status == "sent":
        fields |= {"status": S.SENT, "sent_at": now, "msgid": result.msgid or "", "attempts": attempts}
    elif result.status == "permanent_failure":
        fields |= {"status": S.FAILED, "reason": f"wechat_{result.errcode}", "attempts": attempts}
    elif result.status == "retry" and attempts < settings.OUTBOX_MAX_ATTEMPTS:
        delay = backoff_seconds(attempts=attempts, result=result)
        fields |= {"status": S.PENDING, "attempts": attempts, "next_attempt_at": now + timedelta(seconds=delay)}
    elif result.status == "retry":
        fields |= {"status": S.FAILED, "reason": "too_many_attempts", "attempts": attempts}
    elif result.status == "in_doubt":  # an operator resends it or marks it sent (admin actions)
        fields |= {"status": S.IN_DOUBT, "reason": "no_answer", "attempts": attempts}
    else:  # fatal: our configuration is wrong; nothing was sent, keep the row for after the fix
        fields |= {"status": S.PENDING}
    with transaction.atomic():
        # The outcome need not wait for the WAL flush: if the database itself crashed before writing
        # it, the row would stay ``sending`` and become ``in_doubt`` (never resent). The ``sending``
        # mark before the request stays a synchronous commit.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        _update_row(row.pk, expected=S.SENDING, **fields)
    return fields["status"]


_TABLE = OutboxMessage._meta.db_table


def _update_row(pk: int, *, expected: str, **fields) -> int:
    """``UPDATE`` one row if it is in status ``expected``; the dispatcher's per-message statements, in raw
    SQL because the ORM's compilation was a measurable share of a send's CPU time."""
    sets, params = [], []
    for name, value in fields.items():
        field = OutboxMessage._meta.get_field(name)
        sets.append(f"{connection.ops.quote_name(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_TABLE} SET {', '.join(sets)} WHERE id = %s AND status = %s", [*params, pk, expected])
        return cursor.rowcount


def _release(row: OutboxMessage, **fields) -> None:
    """Settle a claimed row without sending it (deferred, skipped, or a reward already given)."""
    OutboxMessage.objects.filter(pk=row.pk, status=S.CLAIMED).update(claimed_by="", **fields)


def outbox_dispatch_batch(
    *, batch_size: int | None = None, worker: str | None = None, sender: WeChatSender | None = None
) -> DispatchStats:
    """Send one batch of due outbox rows (politely: kill switch, quiet hours, frequency caps)."""
    stats = DispatchStats()
    if sending_control().is_paused:
        return stats
    worker = worker or worker_name()
    now = timezone.now()
    ids = outbox_claim(batch_size=batch_size or settings.OUTBOX_BATCH_SIZE, worker=worker, now=now)
    stats.claimed = len(ids)
    if not ids:
        return stats
    rows = list(OutboxMessage.objects.filter(id__in=ids).select_related("store").order_by("next_attempt_at", "id"))
    per_day, per_week = _sent_counts([r.member_id for r in rows], now)
    sources = content_sources(rows)
    skips = touches_check(rows=rows, sources=sources, now=now)
    ready: list[OutboxMessage] = []
    for row in rows:
        wake = quiet_until(now=now, tz_name=row.store.timezone if row.store else settings.TIME_ZONE)
        if wake is not None and row.kind != OutboxMessage.Kind.REWARD:
            _release(row, status=S.PENDING, next_attempt_at=wake)
            stats.outcomes["quiet_hours"] += 1
        elif row.pk in skips:
            _release(row, status=S.SKIPPED, reason=skips[row.pk])
            stats.outcomes["skipped"] += 1
        elif row.kind == OutboxMessage.Kind.REWARD:
            ready.append(row)
        elif (
            per_day.get(row.member_id, 0) >= settings.CAMPAIGN_MAX_PER_DAY
            or per_week.get(row.member_id, 0) >= settings.CAMPAIGN_MAX_PER_WEEK
        ):
            _release(row, status=S.SKIPPED, reason="frequency_cap")
            stats.outcomes["frequency_cap"] += 1
        else:
            # Counted when chosen, so two touches for one member in a batch respect the cap too.
            per_day[row.member_id] = per_day.get(row.member_id, 0) + 1
            per_week[row.member_id] = per_week.get(row.member_id, 0) + 1
            ready.append(row)
    prepared = touches_prepare(rows=ready, sources=sources, now=now)
    to_send: list[OutboxMessage] = []
    for row in ready:
        item = prepared.get(row.pk)
        if item is not None and item.skip_reason:
            _release(row, status=S.SKIPPED, reason=item.skip_reason)
            stats.outcomes["skipped"] += 1
        elif row.kind == OutboxMessage.Kind.REWARD:  # done by the preparation; nothing to send
            _release(row, status=S.SENT, reason="reward_only", attempts=row.attempts + 1)
            stats.outcomes[S.SENT] += 1
        else:
            if item is not None:
                row.payload = item.payload
            to_send.append(row)
    fatal = _send_all(to_send, stats=stats, sender=sender, has_payload={r.pk for r in to_send if r.pk in prepared})
    if fatal is not None:
        sending_pause(reason=f"WeChat refused our configuration: {fatal.errcode} {fatal.errmsg}")
        OutboxMessage.objects.filter(pk__in=[r.pk for r in to_send], status=S.CLAIMED).update(
            status=S.PENDING, claimed_by=""
        )
        logger.error("outbox paused: fatal WeChat answer %s %s", fatal.errcode, fatal.errmsg)
    return stats


def _send_one(row: OutboxMessage, sender: WeChatSender, *, with_payload: bool) -> tuple[str, SendResult] | None:
    """Mark one claimed row sending, send it, record the outcome; None if the sweeper took it back."""
    sending = {"status": S.SENDING, "sending_at": timezone.now()}
    if with_payload:
        sending["payload"] = row.payload
    # Committed before the request: if this worker dies now, the row says WeChat may have it.
    if not _update_row(row.pk, expected=S.CLAIMED, **sending):
        return None
    result = _send(sender, row)
    return _finish(row, result, timezone.now()), result


def _send_all(
    rows: list[OutboxMessage], *, stats: DispatchStats, sender: WeChatSender | None, has_payload: set[int]
) -> SendResult | None:
    """Send ``rows`` with up to OUTBOX_SEND_CONCURRENCY requests in flight; returns a fatal answer, if any.

    Each sending thread has its own database connection and at most one row ``sending`` at a time, so a
    worker killed mid-batch leaves at most that many rows in doubt. WeChat's latency, not our CPU, is
    what limits a sender, hence the threads.
    """
    concurrency = max(1, min(settings.OUTBOX_SEND_CONCURRENCY, len(rows)))
    if connection.in_atomic_block:
        # Other connections cannot see rows claimed in an open transaction.
        concurrency = 1
    fatal: list[SendResult] = []
    lock = threading.Lock()
    pending = iter(rows)

    def work(thread_sender: WeChatSender) -> None:
        while not fatal:
            with lock:
                row = next(pending, None)
            if row is None:
                return
            outcome = _send_one(row, thread_sender, with_payload=row.pk in has_payload)
            if outcome is None:
                continue  # the sweeper took it back meanwhile
            status, result = outcome
            with lock:
                stats.outcomes[status] += 1
                if result.status == "fatal":
                    fatal.append(result)

    if concurrency == 1:
        work(sender or WeChatSender.from_settings())
        return fatal[0] if fatal else None

    def thread_main() -> None:
        try:
            work(sender or WeChatSender.from_settings(fresh=True))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=thread_main, name=f"outbox-send-{i}") for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return fatal[0] if fatal else None


def outbox_dispatch_due(*, max_batches: int = 50, batch_size: int | None = None) -> DispatchStats:
    """Send batches until nothing is due (or ``max_batches``), for the periodic dispatcher task."""
    total = DispatchStats()
    for _ in range(max_batches):
        stats = outbox_dispatch_batch(batch_size=batch_size)
        total.claimed += stats.claimed
        total.outcomes.update(stats.outcomes)
        if stats.claimed == 0:
            break
    return total


def outbox_sweep_stale(*, now: datetime | None = None) -> tuple[int, int]:
    """Return rows of dead workers: claimed ones to pending; ones caught sending to in_doubt (not resent)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS)
    released = OutboxMessage.objects.filter(status=S.CLAIMED, claimed_at__lt=cutoff).update(
        status=S.PENDING, claimed_by=""
    )
    in_doubt = OutboxMessage.objects.filter(status=S.SENDING, sending_at__lt=cutoff).update(
        status=S.IN_DOUBT, reason="worker_lost_while_sending"
    )
    return released, in_doubt


@transaction.atomic
def outbox_in_doubt_resend(*, ids: Iterable[int], now: datetime | None = None) -> int:
    """An operator checked that WeChat did not get these in-doubt messages: send them again.

    Only rows still in doubt change, so a message confirmed meanwhile is never sent twice.
    """
    return OutboxMessage.objects.filter(pk__in=ids, status=S.IN_DOUBT).update(
        status=S.PENDING, next_attempt_at=now or timezone.now(), reason="operator_resend"
    )


@transaction.atomic
def outbox_in_doubt_confirm_sent(*, ids: Iterable[int], now: datetime | None = None) -> int:
    """An operator checked that WeChat got these in-doubt messages: record them as sent (never resent)."""
    return OutboxMessage.objects.filter(pk__in=ids, status=S.IN_DOUBT).update(
        status=S.SENT, sent_at=now or timezone.now(), reason="operator_confirmed"
    )


def outbox_record_delivery(*, msgid: str, delivered: bool, detail: str = "") -> int:
    """Apply WeChat's TEMPLATESENDJOBFINISH report to the row sent with ``msgid`` (idempotent)."""
    status = S.DELIVERED if delivered else S.FAILED
    return OutboxMessage.objects.filter(msgid=msgid, status__in=[S.SENT, S.DELIVERED, S.FAILED]).update(
        status=status, reason="" if delivered else (detail or "delivery_failed")[:64]
    )


def touches_materialise(*, now: datetime | None = None) -> dict[str, int]:
    """Turn everything due (journey steps, broadcasts) into outbox rows; safe to run often and concurrently."""
    from .broadcasts import broadcasts_materialise_due
    from .journeys import journeys_materialise

    made = journeys_materialise(now=now)
    made.update({f"broadcast:{code}": n for code, n in broadcasts_materialise_due(now=now).items()})
    return made
