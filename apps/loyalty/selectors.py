"""Loyalty reads, and the cart evaluation orders call (``coupons_evaluate``)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from .coupons import Cart, CartLine, CouponEvaluation, coupons_evaluate, template_counts
from .models import Coupon, CouponTemplate, PointsEntry, PointsLot
from .points import ledger_mismatches

__all__ = [
    "Cart",
    "CartLine",
    "CouponEvaluation",
    "coupon_templates_issuable",
    "coupons_evaluate",
    "coupons_recent_for_member",
    "ledger_mismatches",
    "member_coupons",
    "points_adjustments",
    "points_expiring",
    "points_recent_entries",
    "template_counts",
]


def points_expiring(*, member_id: int, at: datetime | None = None) -> list[dict]:
    """The member's points still to expire, soonest first: [{"points", "expires_at"}]."""
    at = at or timezone.now()
    return [
        {"points": remaining, "expires_at": expires_at}
        for remaining, expires_at in PointsLot.objects.filter(member_id=member_id, remaining__gt=0, expires_at__gt=at)
        .order_by("expires_at")
        .values_list("remaining", "expires_at")
    ]


def points_recent_entries(*, member_id: int, limit: int = 50) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(member_id=member_id).order_by("-created_at", "-id")[:limit]


def member_coupons(*, member_id: int, status: str | None = None, at: datetime | None = None) -> QuerySet[Coupon]:
    """A member's coupons: ``available`` (usable now), ``redeemed``, ``expired`` (incl. past due), or all."""
    at = at or timezone.now()
    qs = Coupon.objects.filter(member_id=member_id).select_related("template").order_by("expires_at", "id")
    if status == "available":
        return qs.filter(status=Coupon.Status.ISSUED, expires_at__gt=at)
    if status == "redeemed":
        return qs.filter(status=Coupon.Status.REDEEMED)
    if status == "expired":
        return qs.filter(status=Coupon.Status.EXPIRED) | qs.filter(status=Coupon.Status.ISSUED, expires_at__lte=at)
    return qs


def points_mall_rewards() -> QuerySet[CouponTemplate]:
    """Active coupon templates that can be had for points, cheapest first."""
    return CouponTemplate.objects.filter(is_active=True, points_cost__gt=0).order_by("points_cost", "code")


def points_adjustments(*, member_id: int, limit: int = 20) -> list[PointsEntry]:
    """The member's operator adjustments, newest first, with who made them (one query)."""
    return list(
        PointsEntry.objects.filter(member_id=member_id, kind=PointsEntry.Kind.ADJUST)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def coupons_recent_for_member(*, member_id: int, limit: int = 20) -> list[Coupon]:
    """The member's latest coupons, newest first, with their template and where they were used (one query)."""
    return list(
        Coupon.objects.filter(member_id=member_id)
        .select_related("template", "redeemed_store")
        .order_by("-issued_at", "-id")[:limit]
    )


def coupon_templates_issuable() -> list[CouponTemplate]:
    """Active coupon templates an operator may issue, by name."""
    return list(CouponTemplate.objects.filter(is_active=True).order_by("name", "code"))
