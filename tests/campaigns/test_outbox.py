"""The outbox dispatcher against the fake WeChat server: each touch sent once, politely."""

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from apps.campaigns.models import OutboxMessage
from apps.campaigns.services import (
    outbox_dispatch_batch,
    outbox_dispatch_due,
    outbox_record_delivery,
    outbox_sweep_stale,
    quiet_until,
    sending_control,
    sending_pause,
)
from tests.factories import MemberFactory

from .conftest import dispatcher_killed_mid_batch
from .conftest import recipients as _received

S = OutboxMessage.Status


def _rows(n: int, *, due=None, prefix="t") -> list[OutboxMessage]:
    due = due or timezone.now() - timedelta(seconds=1)
    return [
        OutboxMessage.objects.create(
            touch_key=f"{prefix}:{i}",
            member=MemberFactory(),
            kind=OutboxMessage.Kind.TEMPLATE,
            recipient=f"oOpenid{prefix}{i:05d}",
            template_id="WELCOME",
            payload={"data": {"first": {"value": f"hello {i}"}}},
            next_attempt_at=due,
        )
        for i in range(n)
    ]


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"  # no quiet hours unless a test sets them
    settings.CAMPAIGN_MAX_PER_DAY = 5
    settings.CAMPAIGN_MAX_PER_WEEK = 10


@pytest.mark.django_db
def test_due_rows_are_sent_once_and_recorded(fake_wechat):
    rows = _rows(5)
    future = _rows(1, due=timezone.now() + timedelta(hours=1), prefix="later")

    stats = outbox_dispatch_due()
    outbox_dispatch_due()  # running again sends nothing more

    assert stats.outcomes["sent"] == 5
    assert sorted(_received(fake_wechat)) == sorted(r.recipient for r in rows)
    for row in rows:
        row.refresh_from_db()
        assert row.status == S.SENT and row.msgid and row.sent_at and row.attempts == 1
    future[0].refresh_from_db()
    assert future[0].status == S.PENDING


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_never_send_a_row_twice(fake_wechat, settings):
    settings.OUTBOX_SEND_CONCURRENCY = 3  # four dispatchers, each with three sending threads
    settings.WECHAT_TIMEOUT_SECONDS = 10  # twelve senders and the fake share this process: no timeouts here
    rows = _rows(60)

    def work():
        try:
            outbox_dispatch_due(batch_size=7)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    received = _received(fake_wechat)
    assert len(received) == len(set(received)) == 60
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {S.SENT}
    assert {r.recipient for r in rows} == set(received)


@pytest.mark.django_db
def test_transient_failures_are_retried_with_backoff(fake_wechat):
    [row] = _rows(1)
    fake_wechat.fail_next({"errcode": -1})

    outbox_dispatch_batch()

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_errcode) == (S.PENDING, 1, -1)
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert outbox_dispatch_batch().claimed == 0  # not due yet

    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    outbox_dispatch_batch()

    row.refresh_from_db()
    assert (row.status, row.attempts) == (S.SENT, 2)
    assert _received(fake_wechat) == [row.recipient]


@pytest.mark.django_db
def test_a_message_that_got_no_answer_in_time_is_in_doubt_and_not_sent_again(fake_wechat):
    [row] = _rows(1)
    fake_wechat.fail_next({"delay_ms": 1500})  # the 1 s timeout passes, then WeChat takes the message

    stats = outbox_dispatch_batch()
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    outbox_dispatch_due()

    row.refresh_from_db()
    assert stats.outcomes["in_doubt"] == 1
    assert (row.status, row.reason, row.attempts) == (S.IN_DOUBT, "no_answer", 1)
    deadline = time.monotonic() + 5
    while not _received(fake_wechat) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _received(fake_wechat) == [row.recipient]  # once: the late answer's message, never a second


@pytest.mark.django_db
def test_permanent_failures_are_not_retried(fake_wechat):
    [row] = _rows(1)
    fake_wechat.fail_openid(row.recipient, 43004)

    outbox_dispatch_batch()

    row.refresh_from_db()
    assert (row.status, row.reason, row.last_errcode) == (S.FAILED, "wechat_43004", 43004)
    assert fake_wechat.state.requests == 1


@pytest.mark.django_db
def test_a_fatal_answer_pauses_all_sending_and_keeps_the_messages(fake_wechat, settings):
    rows = _rows(3)
    settings.WECHAT_APP_SECRET = "wrong"

    outbox_dispatch_batch()

    assert sending_control().is_paused and "40125" in sending_control().reason
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {S.PENDING}
    settings.WECHAT_APP_SECRET = "demo-secret"
    assert outbox_dispatch_batch().claimed == 0  # paused until an operator resumes
    assert fake_wechat.messages() == []
    assert len(rows) == 3


@pytest.mark.django_db
def test_the_kill_switch_stops_everything(fake_wechat):
    _rows(2)
    sending_pause(reason="complaint from a member")
    assert outbox_dispatch_due().claimed == 0
    assert fake_wechat.messages() == []


@pytest.mark.django_db
def test_frequency_cap_across_campaigns(fake_wechat, settings):
    settings.CAMPAIGN_MAX_PER_DAY = 1
    member = MemberFactory()
    now = timezone.now() - timedelta(seconds=1)
    for key in ("welcome:day3", "broadcast:7"):
        OutboxMessage.objects.create(
            touch_key=key, member=member, kind="template", recipient="oSameMember01", next_attempt_at=now
        )

    outbox_dispatch_due()

    statuses = dict(OutboxMessage.objects.values_list("touch_key", "status"))
    assert sorted(statuses.values()) == [S.SENT, S.SKIPPED]
    assert len(fake_wechat.messages()) == 1


@pytest.mark.django_db
def test_quiet_hours_defer_to_the_morning_in_the_store_time_zone(fake_wechat, settings):
    hour = timezone.now().astimezone(ZoneInfo("Asia/Shanghai")).hour
    settings.CAMPAIGN_QUIET_HOURS = f"{hour}-{(hour + 1) % 24}"  # quiet right now in Shanghai
    [row] = _rows(1)

    outbox_dispatch_batch()

    row.refresh_from_db()
    wake = row.next_attempt_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert row.status == S.PENDING and row.next_attempt_at > timezone.now()
    assert (wake.hour, wake.minute) == ((hour + 1) % 24, 0)
    assert fake_wechat.messages() == []


def test_quiet_window_wraps_midnight(settings):
    settings.CAMPAIGN_QUIET_HOURS = "21-9"
    shanghai_23h = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    wake = quiet_until(now=shanghai_23h, tz_name="Asia/Shanghai")
    assert wake is not None and (wake.hour, wake.day) == (9, 24)
    shanghai_noon = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    assert quiet_until(now=shanghai_noon, tz_name="Asia/Shanghai") is None


@pytest.mark.django_db
def test_delivery_reports_update_the_row(fake_wechat):
    [row] = _rows(1)
    outbox_dispatch_batch()
    row.refresh_from_db()

    assert outbox_record_delivery(msgid=row.msgid, delivered=False, detail="user block") == 1

    row.refresh_from_db()
    assert (row.status, row.reason) == (S.FAILED, "user block")


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_killed_mid_batch_loses_nothing_and_sends_nothing_twice(fake_wechat, settings):
    rows = _rows(30)
    sent_before_kill = dispatcher_killed_mid_batch(fake_wechat, batch_size=30, timeout=30)
    assert 5 <= sent_before_kill < 30

    released, in_doubt = outbox_sweep_stale(now=timezone.now() + timedelta(hours=1))
    outbox_dispatch_due()

    received = _received(fake_wechat)
    assert len(received) == len(set(received))  # nothing sent twice
    statuses = dict(OutboxMessage.objects.values_list("recipient", "status"))
    assert set(statuses.values()) <= {S.SENT, S.IN_DOUBT}
    assert in_doubt <= 4 and released >= 1  # at most one in flight per sending thread
    doubtful = {r for r, s in statuses.items() if s == S.IN_DOUBT}
    # Every message either reached WeChat or is flagged for an operator; none vanished.
    assert set(received) | doubtful == {r.recipient for r in rows}


@pytest.mark.django_db
def test_operator_resends_an_in_doubt_message_from_the_console(admin_client, fake_wechat):
    [row] = _rows(1)
    OutboxMessage.objects.filter(pk=row.pk).update(status=S.IN_DOUBT)
    assert admin_client.get("/admin/campaigns/outboxmessage/?status=in_doubt").status_code == 200

    admin_client.post(
        "/admin/campaigns/outboxmessage/", {"action": "send_in_doubt_again", "_selected_action": [row.pk]}
    )
    outbox_dispatch_batch()

    row.refresh_from_db()
    assert row.status == S.SENT and _received(fake_wechat) == [row.recipient]
