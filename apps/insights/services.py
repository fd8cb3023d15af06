"""Writes of the insights app: tags, segments and snapshots (the set-based refreshes are in refresh.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.members.models import Member

from .conditions import ConditionSpec, condition_errors
from .errors import InvalidSegment, InvalidTag, TagNotManual
from .models import MemberProfile, MemberTag, Segment, SegmentCondition, SegmentSnapshot, SegmentSnapshotMember, Tag
from .selectors import segment_members, segment_specs


@transaction.atomic
def segment_snapshot_take(*, segment: Segment) -> SegmentSnapshot:
    """Freeze the segment's members now: one INSERT ... SELECT, however many members match."""
    specs = segment_specs(segment=segment)
    snapshot = SegmentSnapshot.objects.create(
        segment=segment,
        taken_at=timezone.now(),
        member_count=0,
        conditions=[{"group": s.group, "kind": s.kind, "value": s.value, "negate": s.negate} for s in specs],
    )
    query = segment_members(segment=segment).order_by().values("pk").query
    members_sql, params = query.get_compiler(connection=connection).as_sql()
    table = SegmentSnapshotMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (snapshot_id, member_id) SELECT %s, matched.* FROM ({members_sql}) AS matched",
            [snapshot.pk, *params],
        )
        snapshot.member_count = cursor.rowcount
    snapshot.save(update_fields=["member_count"])
    return snapshot


def member_profile_merge(*, survivor_id: int, merged_id: int) -> dict[str, Any]:
    """Merge hook: the survivor's orders change in a way the nightly refresh cannot see, so flag its profile."""
    return {"profiles_flagged": MemberProfile.objects.filter(member_id=survivor_id).update(is_stale=True)}


def member_tags_merge(*, survivor_id: int, merged_id: int) -> dict[str, Any]:
    """Merge hook: the merged member's tags move to the survivor (tags it already has are kept once)."""
    table = MemberTag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, tag_id, assigned_at, assigned_by_id) "
            f"SELECT %s, tag_id, assigned_at, assigned_by_id FROM {table} WHERE member_id = %s "
            f"ON CONFLICT (member_id, tag_id) DO NOTHING",
            [survivor_id, merged_id],
        )
        moved = cursor.rowcount
        cursor.execute(f"DELETE FROM {table} WHERE member_id = %s", [merged_id])
    return {"tags": moved}


@transaction.atomic
def member_tag_add(*, member: Member, tag_code: str, by: Any = None) -> MemberTag:
    """Put a manual tag on a member (again: nothing changes)."""
    tag = Tag.objects.filter(code=tag_code.strip()).first()
    if tag is None:
        raise InvalidTag(_("There is no tag %(code)r.") % {"code": tag_code})
    if tag.kind != Tag.Kind.MANUAL:
        raise TagNotManual(_("The tag %(code)r is computed by its rule.") % {"code": tag.code})
    member_tag, _created = MemberTag.objects.get_or_create(
        member=member, tag=tag, defaults={"assigned_at": timezone.now(), "assigned_by": by}
    )
    return member_tag


@transaction.atomic
def member_tag_remove(*, member: Member, tag_code: str) -> bool:
    """Take a manual tag off a member; True if it was there."""
    tag = Tag.objects.filter(code=tag_code.strip()).first()
    if tag is None:
        raise InvalidTag(_("There is no tag %(code)r.") % {"code": tag_code})
    if tag.kind != Tag.Kind.MANUAL:
        raise TagNotManual(_("The tag %(code)r is computed by its rule.") % {"code": tag.code})
    deleted, _rows = MemberTag.objects.filter(member=member, tag=tag).delete()
    return bool(deleted)


@transaction.atomic
def segment_save(
    *, code: str, name: str, conditions: list[ConditionSpec], description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or replace a segment and its conditions; invalid conditions change nothing."""
    errors = condition_errors(conditions)
    if not code.strip() or not name.strip():
        errors["segment"] = [_("a segment needs a code and a name")]
    if errors:
        raise InvalidSegment(_("Some conditions are not valid."), errors=errors)
    if segment is None:
        segment = Segment.objects.create(code=code.strip(), name=name.strip(), description=description)
    else:
        segment.code, segment.name, segment.description = code.strip(), name.strip(), description
        segment.save()
        segment.conditions.all().delete()
    SegmentCondition.objects.bulk_create(
        [
            SegmentCondition(segment=segment, group=c.group, kind=c.kind, value=c.value, negate=c.negate)
            for c in conditions
        ]
    )
    return segment
