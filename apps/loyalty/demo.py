"""Demo loyalty: welcome and birthday coupons, points-mall rewards, and a points history for every member
derived from their spend (one earn entry per month, with its expiry)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.members.models import Member, MemberSpendDay
from apps.stores.models import Channel

from .models import Coupon, CouponTemplate, PointsEntry, PointsLot
from .points import lot_expiry
from .services import coupon_issue, coupons_issue_bulk, points_redeem

TEMPLATES = [
    # code, name, kind, value, cap, min spend, valid days, points cost, per member, total
    ("welcome", "Welcome: 20 off 100", "amount", "20", None, "100", 30, None, 1, None),
    ("birthday", "Birthday: 15% off (up to 100)", "percent", "15", "100", "0", 30, None, 1, None),
    ("mall-50", "Points mall: 50 off 300", "amount", "50", None, "300", 60, 500, 3, None),
    ("mall-100", "Points mall: 100 off 500", "amount", "100", None, "500", 60, 900, 2, 1000),
    ("tmall-30", "Tmall only: 30 off 200", "amount", "30", None, "200", 14, None, 1, 5000),
]


def seed(*, stdout) -> list[str]:
    from .wallet.demo import seed as wallet_seed

    wallet_lines = wallet_seed(stdout=stdout)
    for code, name, kind, value, cap, min_spend, days, cost, per_member, total in TEMPLATES:
        CouponTemplate.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "value": Decimal(value),
                "max_discount": Decimal(cap) if cap else None,
                "min_spend": Decimal(min_spend),
                "valid_days": days,
                "points_cost": cost,
                "per_member_limit": per_member,
                "total_limit": total,
                "is_stackable": False,
            },
        )
    tmall = Channel.objects.filter(code="tmall").first()
    if tmall:
        CouponTemplate.objects.get(code="tmall-30").channels.set([tmall])
    _points_history()
    now = timezone.now()
    welcome = coupons_issue_bulk(
        template=CouponTemplate.objects.get(code="welcome"),
        member_ids=Member.objects.filter(joined_at__gte=now - timedelta(days=30)).values_list("pk", flat=True),
    )
    birthday = coupons_issue_bulk(
        template=CouponTemplate.objects.get(code="birthday"),
        member_ids=Member.objects.filter(birthday__month=timezone.localdate().month).values_list("pk", flat=True),
    )
    demo = Member.objects.filter(phone="+8613800138000").first()
    lines = [f"  loyalty: {welcome} welcome and {birthday} birthday coupons issued"]
    if demo is not None and not Coupon.objects.filter(member=demo).exists():
        coupon_issue(template=CouponTemplate.objects.get(code="welcome"), member=demo)
        mall = CouponTemplate.objects.get(code="mall-50")
        if demo.points_balance >= mall.points_cost:
            points_redeem(
                member_id=demo.pk,
                points=mall.points_cost,
                reference="points mall: mall-50",
                idempotency_key="demo:mall",
            )
            coupon_issue(template=mall, member=demo)
    return lines + wallet_lines


def _points_history() -> None:
    """One earn entry and lot per member and month of spend (1 point a yuan), for members without a ledger."""
    have_ledger = set(PointsEntry.objects.values_list("member_id", flat=True).distinct())
    monthly = (
        MemberSpendDay.objects.filter(amount__gt=0)
        .annotate(month=TruncMonth("day"))
        .values("member_id", "month")
        .annotate(total=Sum("amount"))
        .order_by("member_id", "month")
    )
    now = timezone.now()
    balances: dict[int, int] = defaultdict(int)
    entries, lots = [], []
    for row in monthly:
        member_id = row["member_id"]
        if member_id in have_ledger:
            continue
        points = int(row["total"])
        if points <= 0:
            continue
        month = row["month"]
        expires_at = lot_expiry(month)
        if expires_at <= now:
            continue  # would have expired already
        balances[member_id] += points
        earned_at = timezone.make_aware(timezone.datetime(month.year, month.month, 15, 12))
        entries.append(
            PointsEntry(
                member_id=member_id,
                kind="earn",
                points=points,
                balance_after=balances[member_id],
                reference=f"purchases {month:%Y-%m}",
                idempotency_key=f"demo:earn:{member_id}:{month:%Y%m}",
                created_at=min(earned_at, now),
            )
        )
        lots.append(
            PointsLot(member_id=member_id, earned_month=month, expires_at=expires_at, points=points, remaining=points)
        )
    PointsEntry.objects.bulk_create(entries, batch_size=2000, ignore_conflicts=True)
    PointsLot.objects.bulk_create(lots, batch_size=2000, ignore_conflicts=True)
    members = list(Member.objects.filter(pk__in=balances))
    for member in members:
        member.points_balance = balances[member.pk]
    Member.objects.bulk_update(members, ["points_balance"], batch_size=2000)
