"""Loyalty writes. The ledger lives in ``points``, coupons in ``coupons``; this module is the public face
(the names other apps call) and the points mall, which uses both in one transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.members.models import Member

from .coupons import (
    coupon_issue,
    coupon_redeem,
    coupon_restore,
    coupons_expire_due,
    coupons_issue_bulk,
    coupons_spend_in_transaction,
)
from .errors import CouponIssueRefused, RewardUnavailable
from .models import Coupon, CouponTemplate
from .points import (
    points_adjust,
    points_earn,
    points_earn_in_transaction,
    points_expire_due,
    points_redeem,
    points_reverse,
)

__all__ = [
    "coupon_issue",
    "coupon_redeem",
    "coupon_restore",
    "coupons_expire_due",
    "coupons_issue_bulk",
    "coupons_spend_in_transaction",
    "points_adjust",
    "points_earn",
    "points_earn_in_transaction",
    "points_expire_due",
    "points_mall_redeem",
    "points_redeem",
    "points_reverse",
]


@transaction.atomic
def points_mall_redeem(*, member: Member, reward_code: str, idempotency_key: str, at: datetime | None = None) -> Coupon:
    """Exchange points for a coupon: both happen or neither; one key books once."""
    at = at or timezone.now()
    template = CouponTemplate.objects.filter(code=reward_code).first()
    if template is None or not template.is_active or not template.points_cost:
        raise RewardUnavailable(f"{reward_code!r} is not a points-mall reward.")
    entry = points_redeem(
        member_id=member.pk,
        points=template.points_cost,
        reference=f"points mall: {template.code}",
        idempotency_key=f"mall:{idempotency_key}",
        at=at,
    )
    existing = Coupon.objects.filter(template=template, member=member, issued_at=entry.created_at).first()
    if existing is not None:
        return existing  # a replay of a redemption that already issued its coupon
    try:
        return coupon_issue(template=template, member=member, at=entry.created_at)
    except CouponIssueRefused as exc:
        raise RewardUnavailable(exc.message) from exc
