"""Merge hook: a merged member's orders move to the survivor."""

from __future__ import annotations

from ..models import Order


def orders_merge(*, survivor_id: int, merged_id: int) -> dict[str, int]:
    """Move a merged member's orders to the survivor (a merge hook, inside the merge transaction)."""
    return {"orders": Order.objects.filter(member_id=merged_id).update(member_id=survivor_id)}
