"""The campaigns console: journeys with inline steps, previews, pause and resume, broadcast results."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.campaigns.broadcasts import broadcast_materialise
from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.models import Broadcast, BroadcastVariant, Journey, OutboxMessage
from apps.campaigns.services import outbox_dispatch_due, outbox_in_doubt_confirm_sent, outbox_in_doubt_resend
from apps.insights.models import Segment

from .factories import days_ago, journey_with_steps, order_for, reachable_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5


def _inline_management(prefix: str, total: int) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _step(prefix: str, n: int, **fields) -> dict:
    base = {"offset": "3", "unit": "days", "condition": "", "is_active": "on", "action": "subscribe"}
    base |= {"template_id": "TPL", "content": "thing1: Hi {name}", "page": "", "coupon_template": "", "points": ""}
    return {f"{prefix}-{n}-{k}": v for k, v in (base | fields).items()}


def test_an_operator_builds_a_welcome_journey_with_inline_steps(admin_client):
    data = {"code": "welcome", "name": "Welcome", "trigger": "joined", "trigger_days": "", "catch_up_days": "2"}
    data |= _inline_management("steps", 4)
    for n, offset in enumerate((3, 7, 15, 30)):
        data |= _step("steps", n, offset=str(offset))

    response = admin_client.post("/admin/campaigns/journey/add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    journey = Journey.objects.get(code="welcome")
    assert sorted(journey.steps.values_list("offset", flat=True)) == [3, 7, 15, 30]


def test_content_with_an_unknown_variable_is_refused_with_a_message(admin_client):
    data = {"code": "bad", "name": "Bad", "trigger": "joined", "trigger_days": "", "catch_up_days": "2"}
    data |= _inline_management("steps", 1) | _step("steps", 0, content="thing1: Hi {nmae}")

    response = admin_client.post("/admin/campaigns/journey/add/", data)

    assert response.status_code == 200
    assert "Unknown variable" in response.content.decode() and "{nmae}" in response.content.decode()
    assert not Journey.objects.exists()


def test_preview_shows_todays_audience_and_the_rendered_message(admin_client):
    journey = journey_with_steps("joined", {"offset": 3, "content": "thing1: Welcome {name}, you have {points} points"})
    reachable_member(name="Li Na", joined_at=days_ago(3), points_balance=120)
    reachable_member(name="Other", joined_at=days_ago(3))

    page = admin_client.get(f"/admin/campaigns/journey/{journey.pk}/preview/").content.decode()

    assert '<td class="due-today">2</td>' in page
    assert "Welcome Li Na, you have 120 points" in page or "Welcome Other, you have 0 points" in page
    assert admin_client.get(f"/admin/campaigns/journey/{journey.pk}/change/").status_code == 200


def test_pause_and_resume_from_the_list(admin_client, fake_wechat):
    journey = journey_with_steps("joined", {"offset": 3})
    reachable_member(joined_at=days_ago(3))
    journeys_materialise()

    admin_client.post("/admin/campaigns/journey/", {"action": "pause", "_selected_action": [journey.pk]})
    outbox_dispatch_due()
    assert fake_wechat.messages() == []
    journey.refresh_from_db()
    assert not journey.is_active

    admin_client.post("/admin/campaigns/journey/", {"action": "resume", "_selected_action": [journey.pk]})
    outbox_dispatch_due()
    assert len(fake_wechat.messages()) == 1


def test_broadcast_preview_and_results_pages(admin_client, fake_wechat):
    segment = Segment.objects.create(code="all", name="Everyone")
    members = [reachable_member() for _ in range(30)]
    broadcast = Broadcast.objects.create(
        code="b1", name="Double points", segment=segment, send_at=timezone.now(), holdout_percent=20
    )
    BroadcastVariant.objects.create(broadcast=broadcast, label="A", template_id="T", content="thing1: Hi {name}")
    BroadcastVariant.objects.create(broadcast=broadcast, label="B", template_id="T", content="thing1: Yo {name}")

    preview = admin_client.get(f"/admin/campaigns/broadcast/{broadcast.pk}/preview/").content.decode()
    assert "30" in preview and "holdout (gets nothing)" in preview

    admin_client.post("/admin/campaigns/broadcast/", {"action": "schedule", "_selected_action": [broadcast.pk]})
    broadcast_materialise(broadcast=broadcast)
    outbox_dispatch_due()
    for m in members[:10]:
        order_for(m, at=timezone.now() + timedelta(hours=2))

    results = admin_client.get(f"/admin/campaigns/broadcast/{broadcast.pk}/results/").content.decode()

    assert '<table id="results">' in results and "<svg" in results
    assert "normal approximation" in results
    assert OutboxMessage.objects.filter(status="sent").count() == len(fake_wechat.messages())
    assert admin_client.get(f"/admin/campaigns/broadcast/{broadcast.pk}/change/").status_code == 200
    assert admin_client.get("/admin/campaigns/broadcast/").status_code == 200
    assert admin_client.get("/admin/campaigns/journey/").status_code == 200


def _outbox_row(key: str, status: str) -> OutboxMessage:
    return OutboxMessage.objects.create(
        touch_key=key,
        member=reachable_member(),
        kind=OutboxMessage.Kind.TEMPLATE,
        recipient=f"o{key}",
        template_id="WELCOME",
        status=status,
        next_attempt_at=timezone.now() - timedelta(hours=1),
    )


def test_in_doubt_actions_settle_only_rows_still_in_doubt_through_the_service(admin_client):
    S = OutboxMessage.Status
    doubt_a, doubt_b, sent = _outbox_row("a", S.IN_DOUBT), _outbox_row("b", S.IN_DOUBT), _outbox_row("c", S.SENT)
    changelist = "/admin/campaigns/outboxmessage/"

    admin_client.post(changelist, {"action": "send_in_doubt_again", "_selected_action": [doubt_a.pk, sent.pk]})
    admin_client.post(changelist, {"action": "mark_in_doubt_as_sent", "_selected_action": [doubt_b.pk, doubt_a.pk]})

    rows = {r.touch_key: r for r in OutboxMessage.objects.all()}
    assert (rows["a"].status, rows["a"].reason) == (S.PENDING, "operator_resend")
    assert rows["a"].next_attempt_at > timezone.now() - timedelta(minutes=1)
    assert (rows["b"].status, rows["b"].reason) == (S.SENT, "operator_confirmed") and rows["b"].sent_at
    assert (rows["c"].status, rows["c"].reason) == (S.SENT, "")
    # The service the actions call: a row settled meanwhile is not touched again.
    assert outbox_in_doubt_resend(ids=[doubt_b.pk]) == 0
    assert outbox_in_doubt_confirm_sent(ids=[doubt_a.pk]) == 0
