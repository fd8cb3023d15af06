"""Segments: conditions combine with AND inside a group and OR between groups, in one query."""

from __future__ import annotations

import pytest

from apps.insights.conditions import conditions_q
from apps.insights.models import MemberTag, Segment, SegmentCondition, Tag
from apps.insights.selectors import members_count, segment_members, segment_specs
from apps.insights.services import segment_snapshot_take
from apps.members.models import Consent, Identity, Member
from tests.factories import MemberFactory, StoreFactory, TierFactory

pytestmark = pytest.mark.django_db


def _segment(code: str, *conditions: tuple[int, str, str, bool]) -> Segment:
    segment = Segment.objects.create(code=code, name=code)
    for group, kind, value, negate in conditions:
        SegmentCondition.objects.create(segment=segment, group=group, kind=kind, value=value, negate=negate)
    return segment


def _tag(member: Member, code: str) -> None:
    tag, _ = Tag.objects.get_or_create(code=code, defaults={"name": code})
    MemberTag.objects.create(member=member, tag=tag, assigned_at=member.joined_at)


def test_and_within_a_group_or_between_groups(django_assert_num_queries):
    gold = TierFactory(code="gold")
    s1 = StoreFactory(code="S1")
    a = MemberFactory(tier=gold, join_store=s1)
    b = MemberFactory(tier=gold)
    c = MemberFactory(join_store=s1)
    d = MemberFactory()
    _tag(d, "vip")
    MemberFactory()  # matches nothing
    segment = _segment("s", (1, "tier", "gold", False), (1, "join_store", "S1", False), (2, "tag", "vip", False))
    with django_assert_num_queries(2):  # the conditions, then the members
        codes = set(segment_members(segment=segment).values_list("code", flat=True))
    assert codes == {a.code, d.code}
    assert b.code not in codes and c.code not in codes


def test_negation_consent_and_wechat():
    reachable = MemberFactory()
    Identity.objects.create(member=reachable, kind="wechat_openid", value="o1")
    Consent.objects.create(member=reachable, channel="wechat", granted=True, changed_at=reachable.joined_at)
    no_consent = MemberFactory()
    Identity.objects.create(member=no_consent, kind="wechat_openid", value="o2")
    Consent.objects.create(member=no_consent, channel="wechat", granted=False, changed_at=no_consent.joined_at)
    MemberFactory()
    reach = _segment("reach", (1, "has_wechat", "", False), (1, "consent", "wechat", False))
    assert list(segment_members(segment=reach).values_list("pk", flat=True)) == [reachable.pk]
    unreachable = _segment("unreach", (1, "has_wechat", "", False), (1, "consent", "wechat", True))
    assert list(segment_members(segment=unreachable).values_list("pk", flat=True)) == [no_consent.pk]


def test_merged_and_erased_members_are_never_in_a_segment():
    alive = MemberFactory()
    MemberFactory(status=Member.Status.ERASED, phone=None)
    segment = _segment("everyone")
    assert list(segment_members(segment=segment).values_list("pk", flat=True)) == [alive.pk]


def test_usable_as_a_subquery_and_snapshot_freezes_members(django_assert_max_num_queries):
    vip = [MemberFactory() for _ in range(3)]
    for m in vip:
        _tag(m, "vip")
    MemberFactory()
    segment = _segment("vip", (1, "tag", "vip", False))
    subquery = Member.objects.filter(pk__in=segment_members(segment=segment).values("pk"))
    assert subquery.count() == 3
    with django_assert_max_num_queries(7):
        snapshot = segment_snapshot_take(segment=segment)
    assert snapshot.member_count == 3
    MemberTag.objects.all().delete()
    assert segment_members(segment=segment).count() == 0
    assert snapshot.member_count == 3  # frozen


def test_beat_runs_the_two_refreshes_and_the_weekly_clv_fit():
    from django_celery_beat.models import PeriodicTask

    tasks = set(PeriodicTask.objects.filter(task__startswith="insights.").values_list("task", flat=True))
    assert tasks == {"insights.profiles_refresh", "insights.kpi_aggregates_refresh", "insights.clv_fit"}
    assert PeriodicTask.objects.get(task="insights.clv_fit").crontab.day_of_week == "1"


def test_segment_save_refuses_bad_conditions_and_changes_nothing():
    from apps.insights.conditions import ConditionSpec
    from apps.insights.errors import InvalidSegment
    from apps.insights.services import segment_save

    with pytest.raises(InvalidSegment) as caught:
        segment_save(
            code="bad",
            name="Bad",
            conditions=[ConditionSpec(kind="lifecycle", value="sleepy"), ConditionSpec(kind="nonsense")],
        )
    assert set(caught.value.errors) == {"condition-1", "condition-2"}
    assert not Segment.objects.exists()


def test_merging_members_moves_their_tags_once():
    from apps.members.services import member_merge

    survivor, merged = MemberFactory(), MemberFactory()
    _tag(survivor, "vip")
    _tag(merged, "vip")
    _tag(merged, "fan")
    member_merge(survivor=survivor, merged=merged)
    assert sorted(MemberTag.objects.filter(member=survivor).values_list("tag__code", flat=True)) == ["fan", "vip"]
    assert not MemberTag.objects.filter(member=merged).exists()


def test_the_count_preview_and_the_members_agree_with_one_or_over_the_groups():
    gold = TierFactory(code="gold")
    members = [MemberFactory(tier=gold if n % 2 else None) for n in range(8)]
    for n, member in enumerate(members):
        if n % 3:
            Identity.objects.create(member=member, kind="wechat_openid", value=f"o{n}")
        Consent.objects.create(member=member, channel="wechat", granted=n % 4 != 0, changed_at=member.joined_at)
        if n >= 5:
            _tag(member, "vip")
    members[1].status = Member.Status.ERASED
    members[1].save(update_fields=["status"])
    segment = _segment(
        "mix",
        (1, "has_wechat", "", False),
        (1, "consent", "wechat", False),
        (2, "tag", "vip", False),
        (2, "tier", "gold", True),
        (3, "tier", "gold", False),
        (3, "consent", "wechat", True),
    )
    specs = segment_specs(segment=segment)
    expected = set(
        Member.objects.filter(status=Member.Status.ACTIVE).filter(conditions_q(specs)).values_list("pk", flat=True)
    )
    assert expected  # the data set exercises every group
    assert set(segment_members(segment=segment).values_list("pk", flat=True)) == expected
    assert members_count(specs=specs) == len(expected)
