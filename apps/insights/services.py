"""Writes of the insights app: tags, segments and snapshots (the set-based refreshes are in refresh.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import MemberTag, Segment, SegmentSnapshot, SegmentSnapshotMember
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
    query = segment_members(segment=segment).values("pk").query
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
