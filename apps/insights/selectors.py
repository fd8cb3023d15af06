from __future__ import annotations

from django.db.models import QuerySet

from apps.members.models import Member

from .conditions import ConditionSpec, conditions_q
from .models import Segment


def segment_specs(*, segment: Segment) -> list[ConditionSpec]:
    return [
        ConditionSpec(kind=c.kind, value=c.value, negate=c.negate, group=c.group)
        for c in segment.conditions.all().order_by("group", "id")
    ]


def members_matching(*, specs: list[ConditionSpec]) -> QuerySet[Member]:
    """Active members matching the conditions, as one query (usable as a subquery)."""
    return Member.objects.filter(status=Member.Status.ACTIVE).filter(conditions_q(specs))


def segment_members(*, segment: Segment) -> QuerySet[Member]:
    """The segment's members now: one SQL query over members (conditions are read first, in one query)."""
    return members_matching(specs=segment_specs(segment=segment))
