"""Journeys: due touches become outbox rows once, go out through the fake WeChat once, politely."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.campaigns.content import content_validate, render_payload
from apps.campaigns.errors import InvalidContent
from apps.campaigns.journeys import journey_pause, journey_resume, journey_step_due_count, journeys_materialise
from apps.campaigns.models import JourneyStep, OutboxMessage
from apps.campaigns.services import outbox_dispatch_due, touches_materialise
from apps.loyalty.models import Coupon, PointsEntry
from tests.loyalty.factories import CouponTemplateFactory

from .factories import days_ago, journey_with_steps, openid_of, order_for, reachable_member

S = OutboxMessage.Status


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5
    settings.CAMPAIGN_MAX_PER_WEEK = 10


def _keys() -> list[str]:
    return sorted(OutboxMessage.objects.values_list("touch_key", flat=True))


@pytest.mark.django_db
def test_welcome_touches_fall_due_on_their_day_and_are_made_once(fake_wechat):
    journey = journey_with_steps("joined", {"offset": 3}, {"offset": 7, "content": "thing1: Still there, {name}?"})
    day3 = reachable_member(name="Li Na", joined_at=days_ago(3))
    day7 = reachable_member(name="Wang Fang", joined_at=days_ago(7))
    reachable_member(joined_at=days_ago(11))  # nothing due for them (nor in the catch-up window)
    reachable_member(joined_at=days_ago(3), consent=False)  # no consent: nothing
    reachable_member(joined_at=days_ago(3), openid=False)  # not reachable on WeChat: nothing

    first = journeys_materialise()
    again = touches_materialise()

    assert first == {"welcome": 2} and again == {"welcome": 0}
    steps = {s.offset: s.pk for s in journey.steps.all()}
    today = timezone.localdate()
    assert _keys() == sorted(
        [
            f"j:{steps[3]}:{day3.pk}:{today - timedelta(days=3)}",
            f"j:{steps[7]}:{day7.pk}:{today - timedelta(days=7)}",
        ]
    )

    outbox_dispatch_due()
    outbox_dispatch_due()

    received = {m["to"][0]: m["body"] for m in fake_wechat.messages()}
    assert len(fake_wechat.messages()) == 2
    assert received[openid_of(day3)]["data"] == {"thing1": {"value": "Hi Li Na"}}
    assert received[openid_of(day7)]["data"] == {"thing1": {"value": "Still there, Wang Fang?"}}
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {S.SENT}


@pytest.mark.django_db
def test_a_missed_day_is_caught_up_but_old_history_does_not_flood_out(fake_wechat):
    journey_with_steps("joined", {"offset": 3}, catch_up_days=2)
    missed = reachable_member(joined_at=days_ago(5))  # due two days ago: beat was down
    reachable_member(joined_at=days_ago(30))  # due long ago, before the journey existed

    journeys_materialise()

    assert list(OutboxMessage.objects.values_list("member_id", flat=True)) == [missed.pk]


@pytest.mark.django_db
def test_send_time_condition_is_checked_when_sending(fake_wechat):
    journey_with_steps("joined", {"offset": 7, "condition": "not_bought_since_trigger"})
    quiet = reachable_member(joined_at=days_ago(7))
    buyer = reachable_member(joined_at=days_ago(7))
    journeys_materialise()
    order_for(buyer, at=days_ago(1))  # bought after the touch was made, before it is sent

    outbox_dispatch_due()

    rows = dict(OutboxMessage.objects.values_list("member_id", "status"))
    assert rows == {quiet.pk: S.SENT, buyer.pk: S.SKIPPED}
    assert OutboxMessage.objects.get(member=buyer).reason == "condition:not_bought_since_trigger"
    assert [m["to"][0] for m in fake_wechat.messages()] == [openid_of(quiet)]


@pytest.mark.django_db
def test_consent_withdrawn_after_the_touch_was_made_stops_it(fake_wechat):
    journey_with_steps("joined", {"offset": 3})
    member = reachable_member(joined_at=days_ago(3))
    journeys_materialise()
    member.consents.update(granted=False)

    outbox_dispatch_due()

    assert OutboxMessage.objects.get().reason == "no_consent"
    assert fake_wechat.messages() == []


@pytest.mark.django_db
def test_birthday_coupon_is_issued_once_a_year_and_its_code_is_in_the_message(fake_wechat):
    template = CouponTemplateFactory(code="bday", per_member_limit=None, valid_days=30)
    today = timezone.localdate()
    journey_with_steps(
        "birthday",
        {"offset": 0, "coupon_template": template, "content": "thing1: Happy birthday {name}\nthing2: {coupon_code}"},
        code="birthday",
    )
    member = reachable_member(name="Zhao Min", birthday=today.replace(year=1990))

    journeys_materialise()
    journeys_materialise()
    outbox_dispatch_due()
    # The row is recovered and sent again by mistake: its coupon is already recorded, none is issued again.
    OutboxMessage.objects.update(status=S.PENDING)
    outbox_dispatch_due()

    [coupon] = Coupon.objects.filter(member=member)
    [row] = OutboxMessage.objects.all()
    assert row.touch_key.endswith(f":{member.pk}:{today}")
    assert row.payload["coupon_code"] == coupon.code
    assert fake_wechat.messages()[0]["body"]["data"]["thing2"] == {"value": coupon.code}


@pytest.mark.django_db
def test_points_award_is_booked_once_through_the_ledger(fake_wechat):
    journey_with_steps("joined", {"offset": 15, "action": "reward", "points": 50, "content": ""})
    member = reachable_member(joined_at=days_ago(15), consent=False)  # a reward needs no message consent

    journeys_materialise()
    outbox_dispatch_due()
    OutboxMessage.objects.update(status=S.PENDING)  # as if a worker died after booking
    outbox_dispatch_due()

    member.refresh_from_db()
    assert member.points_balance == 50
    assert PointsEntry.objects.filter(member=member).count() == 1
    assert OutboxMessage.objects.get().status == S.SENT and fake_wechat.messages() == []


@pytest.mark.django_db
def test_no_purchase_for_n_days_touches_each_lapse_once(fake_wechat):
    journey_with_steps("no_purchase", {"offset": 0}, code="winback", trigger_days=30)
    lapsed = reachable_member(joined_at=days_ago(400))
    order_for(lapsed, at=days_ago(40))
    order_for(lapsed, at=days_ago(30))
    active = reachable_member(joined_at=days_ago(400))
    order_for(active, at=days_ago(30))
    order_for(active, at=days_ago(2))

    journeys_materialise()

    [row] = OutboxMessage.objects.all()
    assert row.member_id == lapsed.pk and row.payload["occurred_on"] == str(timezone.localdate())


@pytest.mark.django_db
def test_first_purchase_and_tier_upgrade_triggers(fake_wechat):
    from apps.members.models import TierChange
    from tests.factories import TierFactory

    journey_with_steps("first_purchase", {"offset": 1}, code="first")
    journey_with_steps("tier_upgrade", {"offset": 0}, code="upgrade")
    first = reachable_member()
    order_for(first, at=days_ago(1))
    repeat = reachable_member()
    order_for(repeat, at=days_ago(90))
    order_for(repeat, at=days_ago(1))
    silver, gold = TierFactory(code="s", rank=1), TierFactory(code="g", rank=2)
    upgraded = reachable_member()
    TierChange.objects.create(
        member=upgraded, from_tier=silver, to_tier=gold, reason="spend", changed_at=timezone.now()
    )
    downgraded = reachable_member()
    TierChange.objects.create(
        member=downgraded, from_tier=gold, to_tier=silver, reason="evaluation", changed_at=timezone.now()
    )

    assert journeys_materialise() == {"first": 1, "upgrade": 1}
    assert set(OutboxMessage.objects.values_list("member_id", flat=True)) == {first.pk, upgraded.pk}


@pytest.mark.django_db
def test_a_paused_journey_makes_nothing_and_holds_what_it_made(fake_wechat):
    journey = journey_with_steps("joined", {"offset": 3})
    reachable_member(joined_at=days_ago(3))
    journeys_materialise()

    journey_pause(journey=journey)
    reachable_member(joined_at=days_ago(3))
    journeys_materialise()
    outbox_dispatch_due()

    assert OutboxMessage.objects.count() == 1 and fake_wechat.messages() == []
    journey_resume(journey=journey)
    journeys_materialise()
    outbox_dispatch_due()
    assert len(fake_wechat.messages()) == 2


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_run_twice_at_once_makes_each_touch_once(fake_wechat):
    journey_with_steps("joined", {"offset": 3}, {"offset": 7})
    for n in range(40):
        reachable_member(joined_at=days_ago(3 if n % 2 else 7))
    results, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(journeys_materialise()["welcome"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(results) == 40
    assert OutboxMessage.objects.count() == 40
    assert OutboxMessage.objects.values("member_id").distinct().count() == 40


@pytest.mark.django_db
def test_materialising_a_step_is_one_statement_whatever_the_audience(django_assert_num_queries):
    journey = journey_with_steps("joined", {"offset": 3})
    for _ in range(25):
        reachable_member(joined_at=days_ago(3))
    step = journey.steps.get()

    assert journey_step_due_count(step=step) == 25
    # The steps; then per step: savepoint, the advisory lock, one INSERT ... SELECT, release.
    with django_assert_num_queries(5):
        assert journeys_materialise() == {"welcome": 25}


@pytest.mark.django_db
def test_dispatching_a_batch_of_journey_touches_costs_a_fixed_number_of_queries_plus_a_few_per_message(
    fake_wechat, django_assert_num_queries
):
    journey_with_steps("joined", {"offset": 3})
    for _ in range(10):
        reachable_member(joined_at=days_ago(3))
    journeys_materialise()
    from apps.campaigns.services import outbox_dispatch_batch, sending_control

    sending_control()
    # A fixed dozen (control, claim, rows, caps, steps, members, consents, variables, card balances...), then
    # per message one UPDATE marking it sending, then the outcome in its own transaction (here a savepoint):
    # SET LOCAL synchronous_commit, one UPDATE.
    with django_assert_num_queries(13 + 5 * 10):
        stats = outbox_dispatch_batch()
    assert stats.outcomes["sent"] == 10


def test_unknown_variables_and_template_content_without_fields_are_refused():
    with pytest.raises(InvalidContent):
        content_validate(content="thing1: Hi {nmae}", action="subscribe")
    with pytest.raises(InvalidContent):
        content_validate(content="Hi {name}", action="template")
    content_validate(content="Hi {name}", action="wecom")
    payload = render_payload(
        action="template",
        content="first: Hi {name}\nkeyword1: {points} points",
        page="/p",
        variables={"name": "Li", "points": 10},
    )
    assert payload == {"data": {"first": {"value": "Hi Li"}, "keyword1": {"value": "10 points"}}, "url": "/p"}


@pytest.mark.django_db
def test_steps_with_month_offsets_and_negative_offsets(fake_wechat):
    template = CouponTemplateFactory(code="exp")
    journey_with_steps("joined", {"offset": 2, "unit": JourneyStep.Unit.MONTHS}, code="month2")
    journey_with_steps("coupon_expiring", {"offset": -3}, code="expiring")
    from dateutil.relativedelta import relativedelta

    two_months = reachable_member(joined_at=timezone.now() - relativedelta(months=2))
    holder = reachable_member()
    Coupon.objects.create(
        code="EXP1",
        template=template,
        member=holder,
        issued_at=timezone.now(),
        valid_from=timezone.now(),
        expires_at=timezone.now() + timedelta(days=3),
    )

    assert journeys_materialise() == {"month2": 1, "expiring": 1}
    assert set(OutboxMessage.objects.values_list("member_id", flat=True)) == {two_months.pk, holder.pk}
    assert date.fromisoformat(OutboxMessage.objects.get(member=holder).payload["occurred_on"]) > timezone.localdate()


@pytest.mark.django_db
def test_the_periodic_task_is_one_editable_beat_row_and_runs_the_materialiser(fake_wechat):
    from django_celery_beat.models import PeriodicTask

    from apps.campaigns.tasks import touches_materialise_task

    [row] = PeriodicTask.objects.filter(task="campaigns.touches_materialise")
    assert row.enabled and row.interval is not None
    journey_with_steps("joined", {"offset": 3})
    reachable_member(joined_at=days_ago(3))

    assert "'welcome': 1" in touches_materialise_task()
    assert "'welcome': 0" in touches_materialise_task()


@pytest.mark.django_db
def test_a_wecom_step_goes_through_the_guide_who_added_the_member_in_wecom(fake_wechat):
    from apps.members.models import WeComContact
    from tests.factories import StaffFactory

    guide = StaffFactory(code="G07", wecom_userid="wang.fang")
    no_wecom = StaffFactory(code="G08")
    journey_with_steps("joined", {"offset": 30, "action": "wecom", "template_id": "", "content": "Hi {name}"})
    member = reachable_member(name="Chen Jie", joined_at=days_ago(30), recruited_by=guide)
    WeComContact.objects.create(staff=guide, external_userid="wmChen0001", member=member, added_at=days_ago(1))
    not_added = reachable_member(joined_at=days_ago(30), recruited_by=guide)
    # Added by another guide only: this member's own guide cannot reach them
    WeComContact.objects.create(staff=no_wecom, external_userid="wmElse0001", member=not_added, added_at=days_ago(1))
    guide_without_wecom = reachable_member(joined_at=days_ago(30), recruited_by=no_wecom)
    reachable_member(joined_at=days_ago(30))  # no guide: no WeCom step at all
    assert (
        journey_step_due_count(step=JourneyStep.objects.get(action="wecom")) == 1
    )  # the preview counts who it reaches

    journeys_materialise()
    outbox_dispatch_due()

    [message] = fake_wechat.messages("wecom_group")
    assert message["body"] == {
        "external_userid": ["wmChen0001"],
        "sender": "wang.fang",
        "text": {"content": "Hi Chen Jie"},
    }
    skipped = dict(OutboxMessage.objects.filter(status="skipped").values_list("member_id", "reason"))
    assert skipped == {
        not_added.pk: "not_added_by_guide_on_wecom",
        guide_without_wecom.pk: "guide_has_no_wecom_userid",
    }
