from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from apps.members.models import Member

from .clv.selectors import member_clv
from .conditions import ConditionSpec, conditions_groups
from .models import MemberProfile, MemberTag, Segment


def segment_specs(*, segment: Segment) -> list[ConditionSpec]:
    return [
        ConditionSpec(kind=c.kind, value=c.value, negate=c.negate, group=c.group)
        for c in segment.conditions.all().order_by("group", "id")
    ]


def members_matching(*, specs: list[ConditionSpec]) -> QuerySet[Member]:
    """Active members matching the conditions, as one query (usable as a subquery).

    Several groups (OR) become a UNION of each group's members: each group is then planned on its own, its
    most selective condition drives and its EXISTS conditions become semi-joins, where one WHERE with ORs
    has PostgreSQL test every member against every group's subqueries.
    """
    active = Member.objects.filter(status=Member.Status.ACTIVE)
    groups = conditions_groups(specs)
    if len(groups) <= 1:
        return active.filter(*groups)
    return active.filter(pk__in=_groups_union(groups))


def _groups_union(groups: list) -> QuerySet:
    """The active members of each group (one Q each), as one UNION of their ids (a member once)."""
    each = [Member.objects.filter(q, status=Member.Status.ACTIVE).values("pk") for q in groups]
    return each[0].union(*each[1:])


def members_count(*, specs: list[ConditionSpec]) -> int:
    """How many members match (the live preview): one count, with room to hash the member tables in memory."""
    with transaction.atomic(), connection.cursor() as cursor:
        # A count over a million members costs the JIT more to compile than it saves.
        cursor.execute("SET LOCAL work_mem = '128MB'; SET LOCAL jit = off")
        groups = conditions_groups(specs)
        if len(groups) > 1:  # each group's members are active already: count the union itself
            return _groups_union(groups).count()
        return members_matching(specs=specs).count()


def segment_members(*, segment: Segment) -> QuerySet[Member]:
    """The segment's members now: one SQL query over members (conditions are read first, in one query)."""
    return members_matching(specs=segment_specs(segment=segment))


def member_profile_card(*, member: Member) -> dict[str, Any]:
    """What channels personalise with (``GET /members/{code}/profile``), in three queries.

    ``tags`` lists the member's manual and rule tag codes, then the computed tags as ``kind:value``
    (``lifecycle:active``, ``rfm:loyal``, ``power:medium``, ``habit:omnichannel``, ``category:<code>``,
    ``store:<code>``, ``birthday_month:3``, ``value:top10``); ``clv`` the lifetime value predictions or None.
    """
    profiles = MemberProfile.objects.select_related("member", "favourite_category", "favourite_store")
    profile = profiles.filter(member_id=member.pk).first()
    tags = sorted(MemberTag.objects.filter(member_id=member.pk).values_list("tag__code", flat=True))
    clv, value_band = member_clv(member_id=member.pk)
    if profile is None:
        return {
            "tags": tags,
            "lifecycle_stage": None,
            "rfm": {"recency_score": None, "frequency_score": None, "monetary_score": None, "segment": None},
            "btyd": {"frequency": 0, "recency": 0, "T": 0, "monetary_value": "0.00"},
            "computed_at": None,
            "clv": clv,
        }
    computed = [f"lifecycle:{profile.lifecycle_stage}"]
    if profile.rfm_segment:
        computed.append(f"rfm:{profile.rfm_segment}")
    if profile.power_band:
        computed.append(f"power:{profile.power_band}")
    if profile.channel_habit:
        computed.append(f"habit:{profile.channel_habit}")
    if profile.favourite_category:
        computed.append(f"category:{profile.favourite_category.code}")
    if profile.favourite_store:
        computed.append(f"store:{profile.favourite_store.code}")
    if profile.birthday_month:
        computed.append(f"birthday_month:{profile.birthday_month}")
    if value_band:
        computed.append(f"value:{value_band}")
    return {
        "tags": tags + computed,
        "lifecycle_stage": profile.lifecycle_stage,
        "rfm": {
            "recency_score": profile.recency_score,
            "frequency_score": profile.frequency_score,
            "monetary_score": profile.monetary_score,
            "segment": profile.rfm_segment or None,
        },
        "btyd": {
            "frequency": profile.frequency,
            "recency": profile.recency,
            "T": profile.T,
            "monetary_value": f"{profile.monetary_value:.2f}",
        },
        "computed_at": profile.computed_at,
        "clv": clv,
    }


def member_profile_for_console(*, member_id: int) -> tuple[MemberProfile | None, list[MemberTag]]:
    """The member's computed profile (None before the first refresh) and tags with their names: two queries."""
    profiles = MemberProfile.objects.select_related("favourite_category", "favourite_store")
    profile = profiles.filter(member_id=member_id).first()
    tags = list(MemberTag.objects.filter(member_id=member_id).select_related("tag").order_by("tag__name"))
    return profile, tags


def refresh_status() -> dict[str, Any]:
    """When the KPI aggregates and the member profiles were last refreshed (None: never), in two queries."""
    from .models import KpiWatermark, ProfileRefresh

    kpis = KpiWatermark.objects.values_list("refreshed_at", flat=True).first()
    profiles = ProfileRefresh.objects.values_list("computed_at", flat=True).first()
    return {"kpis_refreshed_at": kpis, "profiles_computed_at": profiles}
