"""Which store and which shopping guide get credit for an order: one rule for orders, imports and the KPIs.

In a store (the POS channel) the store that sold and the guide who served get the credit. Online, a member's
order goes to the store the member joined at and the guide who recruited them ("stores keep their
commission when the recommendation leads to an online sale"); a guide named on the order still wins, and
an online order of no member stays with the store that fulfils it.
"""

from __future__ import annotations

from typing import Protocol


class _Recruited(Protocol):
    join_store_id: int | None
    recruited_by_id: int | None


def order_credit(
    *, is_online: bool, store_id: int | None, guide_id: int | None, member: _Recruited | None
) -> tuple[int | None, int | None]:
    """``(credited_store_id, credited_guide_id)`` for an order."""
    if is_online and member is not None:
        return member.join_store_id or store_id, guide_id or member.recruited_by_id
    return store_id, guide_id


def order_credit_sql(*, is_online: str, store_id: str, guide_id: str, member: str) -> tuple[str, str]:
    """The same rule as SQL expressions over columns (``member`` is the members table's alias, its id NULL
    when the order names no member), for set-based writes."""
    online_member = f"({is_online}) AND {member}.id IS NOT NULL"
    return (
        f"CASE WHEN {online_member} THEN coalesce({member}.join_store_id, {store_id}) ELSE {store_id} END",
        f"CASE WHEN {online_member} THEN coalesce({guide_id}, {member}.recruited_by_id) ELSE {guide_id} END",
    )


def order_credited_store_sql(order: str = "o") -> str:
    """The store an order counts for in reports: its credited store (older rows: the store that sold)."""
    return f"coalesce({order}.credited_store_id, {order}.store_id)"


def order_counts_sql(order: str = "o") -> str:
    """Whether an order counts as a sale in reports, profiles, KPIs and journey conditions: it is paid and not
    refunded in full (a free order counts). The one rule; every set-based reader uses it."""
    return f"({order}.is_paid AND ({order}.total = 0 OR {order}.refunded_total < {order}.total))"
