"""What happens to a journey or broadcast touch at send time, before the message goes out.

For a claimed batch: re-check that the member is active and still consents, check the step's
send-time condition (one query per condition per batch), then for each touch that will go out do its
actions exactly once and render its content with the member's variables:

- a coupon is issued in the same transaction that records its code on the outbox row, under the row's
  lock, so a retried or recovered touch never issues a second one;
- points are booked through the ledger with the idempotency key ``campaign:<touch key>``.

Rows not made by a journey or broadcast (no content source) pass through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Min, Sum
from django.utils import formats
from django.utils.translation import gettext as _

from apps.loyalty.errors import CouponIssueRefused
from apps.loyalty.models import CouponTemplate, PointsLot, Wallet
from apps.loyalty.services import coupon_issue, points_earn
from apps.members.models import Consent, Member

from .conditions import Touch, conditions_check
from .content import render_payload
from .models import Action, BroadcastVariant, JourneyStep, OutboxMessage, TouchContent


@dataclass
class Prepared:
    payload: dict
    skip_reason: str = ""


def content_sources(rows: list[OutboxMessage]) -> dict[int, TouchContent]:
    """Each row's step or variant (one query per kind of source)."""
    sources: dict[int, TouchContent] = {}
    step_ids = {r.journey_step_id for r in rows if r.journey_step_id}
    steps = JourneyStep.objects.in_bulk(step_ids) if step_ids else {}
    variant_ids = {r.broadcast_variant_id for r in rows if r.broadcast_variant_id}
    variants = BroadcastVariant.objects.in_bulk(variant_ids) if variant_ids else {}
    for row in rows:
        if row.journey_step_id in steps:
            sources[row.pk] = steps[row.journey_step_id]
        elif row.broadcast_variant_id in variants:
            sources[row.pk] = variants[row.broadcast_variant_id]
    return sources


def touches_check(*, rows: list[OutboxMessage], sources: dict[int, TouchContent], now: datetime) -> dict[int, str]:
    """Why each touch that must not go out is skipped: member gone, consent withdrawn, condition not met."""
    touched = [r for r in rows if r.pk in sources]
    if not touched:
        return {}
    member_ids = {r.member_id for r in touched}
    active = set(Member.objects.filter(pk__in=member_ids, status=Member.Status.ACTIVE).values_list("pk", flat=True))
    consenting = set(
        Consent.objects.filter(member_id__in=member_ids, channel=Consent.Channel.WECHAT, granted=True).values_list(
            "member_id", flat=True
        )
    )
    skip: dict[int, str] = {}
    by_condition: dict[str, list[Touch]] = {}
    for row in touched:
        if row.member_id not in active:
            skip[row.pk] = "member_inactive"
        elif row.kind != OutboxMessage.Kind.REWARD and row.member_id not in consenting:
            skip[row.pk] = "no_consent"
        else:
            occurred = (row.payload or {}).get("occurred_on")
            touch = Touch(row.pk, row.member_id, date.fromisoformat(occurred) if occurred else now.date())
            by_condition.setdefault(getattr(sources[row.pk], "condition", ""), []).append(touch)
    passing = conditions_check(touches_by_condition=by_condition, now=now)
    for code, touches in by_condition.items():
        for touch in touches:
            if touch.outbox_id not in passing:
                skip[touch.outbox_id] = f"condition:{code}"[:64]
    return skip


def _issue_coupon_once(*, row: OutboxMessage, template: CouponTemplate, member: Member, now: datetime) -> dict:
    """Issue the touch's coupon unless its row already records one; returns the row's payload."""
    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update(no_key=True).only("payload").get(pk=row.pk)
        payload = dict(locked.payload or {})
        if "coupon_code" not in payload:
            coupon = coupon_issue(template=template, member=member, at=now)
            payload |= {"coupon_code": coupon.code, "coupon_expires": coupon.expires_at.isoformat()}
            OutboxMessage.objects.filter(pk=row.pk).update(payload=payload)
    return payload


def _variables(members: dict[int, Member], now: datetime) -> dict[int, dict]:
    expiring = {
        r["member_id"]: r
        for r in PointsLot.objects.filter(
            member_id__in=list(members), remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=30)
        )
        .values("member_id")
        .annotate(points=Sum("remaining"), first=Min("expires_at"))
    }
    balances = dict(
        Wallet.objects.filter(member_id__in=list(members))
        .annotate(total=F("principal") + F("bonus"))
        .values_list("member_id", "total")
    )
    result = {}
    for pk, m in members.items():
        soon = expiring.get(pk)
        result[pk] = {
            "name": m.name or m.code,
            "points": m.points_balance,
            "expiring_points": soon["points"] if soon else 0,
            "expiring_at": formats.date_format(soon["first"], "Y-m-d") if soon else "",
            "store": m.join_store.name if m.join_store else "",
            "tier": m.tier.name if m.tier else "",
            "code": m.code,
            "balance": balances.get(pk, Decimal("0.00")),
        }
    return result


def touches_prepare(
    *, rows: list[OutboxMessage], sources: dict[int, TouchContent], now: datetime
) -> dict[int, Prepared]:
    """Do each touch's actions (once) and render its message; rows without a source are left alone."""
    touched = [r for r in rows if r.pk in sources]
    if not touched:
        return {}
    members = Member.objects.select_related("join_store", "tier").in_bulk({r.member_id for r in touched})
    templates = CouponTemplate.objects.in_bulk({s.coupon_template_id for s in sources.values() if s.coupon_template_id})
    prepared: dict[int, Prepared] = {}
    rewarded: set[int] = set()
    for row in touched:
        source, payload = sources[row.pk], dict(row.payload or {})
        if source.coupon_template_id:
            try:
                payload = _issue_coupon_once(
                    row=row, template=templates[source.coupon_template_id], member=members[row.member_id], now=now
                )
            except CouponIssueRefused:
                prepared[row.pk] = Prepared(payload, "coupon_refused")
                continue
        if source.points:
            points_earn(
                member_id=row.member_id,
                points=source.points,
                reference=f"campaign {row.touch_key}"[:100],
                idempotency_key=f"campaign:{row.touch_key}"[:150],
                at=now,
            )
            rewarded.add(row.member_id)
        prepared[row.pk] = Prepared(payload)
    if rewarded:  # balances changed: read them again for {points}
        for m in Member.objects.filter(pk__in=rewarded).only("id", "points_balance"):
            members[m.pk].points_balance = m.points_balance
    variables = _variables(members, now)
    for row in touched:
        item = prepared[row.pk]
        if item.skip_reason or row.kind == OutboxMessage.Kind.REWARD:
            continue
        source = sources[row.pk]
        values = dict(variables[row.member_id])
        values["coupon_code"] = item.payload.get("coupon_code", "")
        expires = item.payload.get("coupon_expires", "")
        values["coupon_expires"] = expires[:10]
        rendered = render_payload(action=source.action, content=source.content, page=source.page, variables=values)
        item.payload = {**item.payload, **rendered}
    return prepared


__all__ = ["Action", "Prepared", "content_sources", "touch_preview", "touches_check", "touches_prepare"]


def touch_preview(*, source: TouchContent, member: Member, now: datetime) -> dict:
    """The message ``member`` would get from ``source`` now; nothing is issued or booked."""
    member = Member.objects.select_related("join_store", "tier").get(pk=member.pk)
    values = dict(_variables({member.pk: member}, now)[member.pk])
    values["coupon_code"] = _("(coupon code)") if source.coupon_template_id else ""
    values["coupon_expires"] = _("(expiry)") if source.coupon_template_id else ""
    return render_payload(action=source.action, content=source.content, page=source.page, variables=values)
