"""Broadcasts: a segment, a send time, A/B variants and a random holdout; results with uplift.

Assignment is deterministic per member: ``md5("<broadcast id>:<member id>")`` gives a bucket in
0..9999; the first ``holdout_percent`` of the buckets get nothing, the rest are shared between the
variants by weight. The same member always lands in the same arm, however often it is computed.

When a broadcast falls due, its audience (the segment's members with WeChat consent and an openid,
at that moment) is frozen into ``BroadcastAudience`` with each member's arm, and each variant's arm
goes into the outbox in one ``INSERT ... SELECT ... ON CONFLICT (touch_key) DO NOTHING``, with the
touch key ``b:<broadcast>:<member>``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.insights.selectors import segment_members
from apps.loyalty.models import Coupon
from apps.members.models import Member
from apps.orders.models import Order

from .content import content_validate
from .errors import BroadcastAlreadySent, InvalidBroadcast, InvalidContent
from .journeys import OUTBOX_COLUMNS, PAUSED_UNTIL, empty_json, reach_sql
from .models import Action, Broadcast, BroadcastAudience, BroadcastVariant, OutboxMessage

BUCKETS = 10_000
Z_95 = 1.959964


def bucket_of(*, broadcast_id: int, member_id: int) -> int:
    """The member's bucket (0..9999) for this broadcast; the SQL below computes the same."""
    return int(hashlib.md5(f"{broadcast_id}:{member_id}".encode()).hexdigest()[:8], 16) % BUCKETS


_BUCKET_SQL = "(('x' || substr(md5(%s::text || ':' || x.member_id::text), 1, 8))::bit(32)::bigint %% 10000)"


def arm_bounds(*, broadcast: Broadcast, variants: list[BroadcastVariant]) -> list[tuple[int, int | None]]:
    """(upper bucket bound, variant id) per arm, in order; ``None`` is the holdout."""
    holdout = broadcast.holdout_percent * BUCKETS // 100
    bounds: list[tuple[int, int | None]] = [(holdout, None)]
    total, running = sum(v.weight for v in variants), 0
    for variant in variants:
        running += variant.weight
        bounds.append((holdout + (BUCKETS - holdout) * running // total, variant.pk))
    return bounds


def arm_of(*, bucket: int, bounds: list[tuple[int, int | None]]) -> int | None:
    for upper, variant_id in bounds:
        if bucket < upper:
            return variant_id
    return bounds[-1][1]


def _reachable_members(broadcast: Broadcast) -> tuple[str, list]:
    """SQL for the segment's members reachable on WeChat now (``member_id``)."""
    segment_sql, segment_params = segment_members(segment=broadcast.segment).values("id").query.sql_with_params()
    joins, recipient, _sender = reach_sql(Action.WECHAT_TEMPLATE)
    return (
        f"SELECT x.member_id FROM (SELECT m.id AS member_id, {recipient} AS recipient "
        f"FROM {Member._meta.db_table} m {joins}WHERE m.status = 'active' AND m.id IN ({segment_sql})) x "
        f"WHERE x.recipient IS NOT NULL",
        list(segment_params),
    )


def _audience_select(broadcast: Broadcast) -> tuple[str, list]:
    """(member_id, bucket) of the reachable audience, as SQL."""
    members, params = _reachable_members(broadcast)
    return f"SELECT x.member_id, {_BUCKET_SQL} AS bucket FROM ({members}) x", [broadcast.pk, *params]


def broadcast_validate(*, broadcast: Broadcast) -> list[BroadcastVariant]:
    """Refuse a broadcast that cannot go out: no variant, or content that does not render."""
    variants = list(broadcast.variants.order_by("label", "id"))
    if not variants:
        raise InvalidBroadcast(_("A broadcast needs at least one variant."))
    for variant in variants:
        try:
            content_validate(content=variant.content, action=variant.action)
        except InvalidContent as exc:
            raise InvalidBroadcast(_("Variant %(label)s: %(error)s") % {"label": variant.label, "error": exc}) from exc
        if variant.action in {Action.WECHAT_TEMPLATE, Action.WECHAT_SUBSCRIBE} and not variant.template_id:
            raise InvalidBroadcast(_("Variant %(label)s needs a WeChat template id.") % {"label": variant.label})
    return variants


def broadcast_schedule(*, broadcast: Broadcast) -> Broadcast:
    """Draft -> scheduled (checked first); it goes out at ``send_at`` with the next periodic run."""
    broadcast_validate(broadcast=broadcast)
    if broadcast.status not in {Broadcast.Status.DRAFT, Broadcast.Status.PAUSED} or broadcast.materialised_at:
        raise BroadcastAlreadySent(_("This broadcast was already handed to the outbox."))
    Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.SCHEDULED)
    broadcast.status = Broadcast.Status.SCHEDULED
    return broadcast


def broadcast_materialise(*, broadcast: Broadcast, now: datetime | None = None) -> int:
    """Freeze the audience and put each arm's touches into the outbox, once; returns the new touches."""
    now = now or timezone.now()
    with transaction.atomic():
        # Concurrent runs queue on the broadcast row; the second finds it already sent.
        locked = Broadcast.objects.select_for_update().select_related("segment").get(pk=broadcast.pk)
        if locked.status != Broadcast.Status.SCHEDULED or locked.send_at > now:
            return 0
        variants = broadcast_validate(broadcast=locked)
        bounds = arm_bounds(broadcast=locked, variants=variants)
        arm_case = "CASE " + " ".join(f"WHEN a.bucket < {int(upper)} THEN {vid or 'NULL'}" for upper, vid in bounds)
        arm_case += f" ELSE {int(variants[-1].pk)} END"
        made = 0
        with connection.cursor() as cursor:
            audience_sql, audience_params = _audience_select(locked)
            cursor.execute(
                f"INSERT INTO {BroadcastAudience._meta.db_table} (broadcast_id, member_id, variant_id) "
                f"SELECT %s, a.member_id, {arm_case} FROM ({audience_sql}) a "
                f"ON CONFLICT (broadcast_id, member_id) DO NOTHING",
                [locked.pk, *audience_params],
            )
            audience = cursor.rowcount
            for variant in variants:
                joins, recipient, sender = reach_sql(variant.action)
                kind = OutboxMessage.Kind.REWARD if variant.action == Action.REWARD_ONLY else variant.action
                cursor.execute(
                    f"INSERT INTO {OutboxMessage._meta.db_table} ({OUTBOX_COLUMNS}, broadcast_variant_id) "
                    f"SELECT 'b:' || CAST(%s AS TEXT) || ':' || x.member_id, x.member_id, x.join_store_id, %s, "
                    f"x.recipient, x.sender, %s, {empty_json()}, 'pending', '', 0, %s, '', '', '', %s, %s "
                    f"FROM (SELECT m.id AS member_id, m.join_store_id, {recipient} AS recipient, {sender} AS sender "
                    f"FROM {BroadcastAudience._meta.db_table} a JOIN {Member._meta.db_table} m ON m.id = a.member_id "
                    f"{joins}WHERE a.broadcast_id = %s AND a.variant_id = %s) x "
                    f"WHERE x.recipient IS NOT NULL AND x.sender IS NOT NULL "
                    f"ON CONFLICT (touch_key) DO NOTHING",
                    [
                        locked.pk,
                        kind,
                        variant.template_id,
                        now,
                        now,
                        variant.pk,
                        locked.pk,
                        variant.pk,
                    ],
                )
                made += cursor.rowcount
        Broadcast.objects.filter(pk=locked.pk).update(
            status=Broadcast.Status.SENT, audience_size=audience, materialised_at=now
        )
    return made


def broadcasts_materialise_due(*, now: datetime | None = None) -> dict[str, int]:
    """Every scheduled broadcast whose time has come."""
    now = now or timezone.now()
    due = Broadcast.objects.filter(status=Broadcast.Status.SCHEDULED, send_at__lte=now).order_by("send_at", "pk")
    return {b.code: broadcast_materialise(broadcast=b, now=now) for b in due}


def broadcast_pause(*, broadcast: Broadcast) -> int:
    """Hold a broadcast: not sent when due; if already in the outbox, its unsent touches wait."""
    with transaction.atomic():
        Broadcast.objects.filter(pk=broadcast.pk, status__in=["scheduled", "sent"]).update(
            status=Broadcast.Status.PAUSED
        )
        return OutboxMessage.objects.filter(
            broadcast_variant__broadcast=broadcast, status=OutboxMessage.Status.PENDING
        ).update(next_attempt_at=PAUSED_UNTIL)


def broadcast_resume(*, broadcast: Broadcast, now: datetime | None = None) -> int:
    """Resume: scheduled again if it had not gone out, else its held touches are due now."""
    with transaction.atomic():
        locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if locked.status != Broadcast.Status.PAUSED:
            return 0
        locked.status = Broadcast.Status.SENT if locked.materialised_at else Broadcast.Status.SCHEDULED
        locked.save(update_fields=["status"])
        return OutboxMessage.objects.filter(
            broadcast_variant__broadcast=locked,
            status=OutboxMessage.Status.PENDING,
            next_attempt_at__gte=PAUSED_UNTIL,
        ).update(next_attempt_at=now or timezone.now())


# -- previews ------------------------------------------------------------------------------------------------


def broadcast_audience_preview(*, broadcast: Broadcast) -> dict[str, int]:
    """How many members it would reach now, and how they would split: {"total", "holdout", <label>...}."""
    variants = list(broadcast.variants.order_by("label", "id"))
    if not variants:
        members, params = _reachable_members(broadcast)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({members}) a", params)
            return {"total": int(cursor.fetchone()[0])}
    bounds = arm_bounds(broadcast=broadcast, variants=variants)
    labels = {v.pk: v.label for v in variants}
    lows = [0] + [upper for upper, _vid in bounds[:-1]]
    audience_sql, params = _audience_select(broadcast)
    columns = ", ".join(
        f"COUNT(*) FILTER (WHERE a.bucket >= {int(low)} AND a.bucket < {int(upper)})"
        for low, (upper, _vid) in zip(lows, bounds, strict=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), {columns} FROM ({audience_sql}) a", params)
        total, *counts = cursor.fetchone()
    result = {"total": int(total)}
    for (_upper, vid), count in zip(bounds, counts, strict=True):
        result["holdout" if vid is None else labels[vid]] = int(count)
    return result


# -- results -------------------------------------------------------------------------------------------------


@dataclass
class ArmResult:
    label: str
    variant_id: int | None
    members: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0
    buyers: int = 0
    revenue: Decimal = Decimal("0.00")
    uplift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def conversion(self) -> float:
        return self.buyers / self.members if self.members else 0.0

    @property
    def revenue_per_member(self) -> Decimal:
        return (self.revenue / self.members).quantize(Decimal("0.01")) if self.members else Decimal("0.00")


def uplift_ci(*, buyers: int, members: int, holdout_buyers: int, holdout_members: int) -> tuple[float, float, float]:
    """Difference of conversion rates (arm - holdout) with a 95% normal-approximation (Wald) interval."""
    p1, p0 = buyers / members, holdout_buyers / holdout_members
    se = math.sqrt(p1 * (1 - p1) / members + p0 * (1 - p0) / holdout_members)
    diff = p1 - p0
    return diff, diff - Z_95 * se, diff + Z_95 * se


def broadcast_results(*, broadcast: Broadcast) -> list[ArmResult]:
    """Per variant and for the holdout: sent, delivered, failed, coupons, buyers and revenue within the
    window after sending, and each variant's uplift in conversion over the holdout with its 95% CI."""
    variants = list(broadcast.variants.order_by("label", "id"))
    arms = {None: ArmResult(_("holdout"), None)} | {v.pk: ArmResult(v.label, v.pk) for v in variants}
    a, o, c, orders = (
        BroadcastAudience._meta.db_table,
        OutboxMessage._meta.db_table,
        Coupon._meta.db_table,
        Order._meta.db_table,
    )
    start = broadcast.materialised_at or broadcast.send_at
    end = start + timedelta(days=broadcast.attribution_days)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT variant_id, COUNT(*) FROM {a} WHERE broadcast_id = %s GROUP BY variant_id", [broadcast.pk]
        )
        for vid, n in cursor.fetchall():
            if vid in arms:
                arms[vid].members = n
        cursor.execute(
            f"SELECT o.broadcast_variant_id, COUNT(o.sent_at), COUNT(*) FILTER (WHERE o.status = 'delivered'), "
            f"COUNT(*) FILTER (WHERE o.status = 'failed'), COUNT(cp.id), "
            f"COUNT(cp.id) FILTER (WHERE cp.status = 'redeemed') "
            f"FROM {o} o LEFT JOIN {c} cp ON cp.code = o.payload->>'coupon_code' "
            f"WHERE o.broadcast_variant_id IN ({', '.join(['%s'] * len(variants)) or 'NULL'}) "
            f"GROUP BY o.broadcast_variant_id",
            [v.pk for v in variants],
        )
        for vid, sent, delivered, failed, issued, redeemed in cursor.fetchall():
            arm = arms[vid]
            arm.sent, arm.delivered, arm.failed, arm.coupons_issued, arm.coupons_redeemed = (
                sent,
                delivered,
                failed,
                issued,
                redeemed,
            )
        cursor.execute(
            f"SELECT a.variant_id, COUNT(DISTINCT r.member_id), COALESCE(SUM(r.total - r.refunded_total), 0) "
            f"FROM {a} a JOIN {orders} r ON r.member_id = a.member_id AND r.placed_at >= %s AND r.placed_at < %s "
            f"WHERE a.broadcast_id = %s GROUP BY a.variant_id",
            [start, end, broadcast.pk],
        )
        for vid, buyers, revenue in cursor.fetchall():
            if vid in arms:
                arms[vid].buyers, arms[vid].revenue = buyers, Decimal(str(revenue)).quantize(Decimal("0.01"))
    holdout = arms[None]
    for arm in arms.values():
        if arm.variant_id is not None and arm.members and holdout.members:
            arm.uplift, arm.ci_low, arm.ci_high = uplift_ci(
                buyers=arm.buyers, members=arm.members, holdout_buyers=holdout.buyers, holdout_members=holdout.members
            )
    return [*(arms[v.pk] for v in variants), holdout]


__all__ = [
    "arm_bounds",
    "arm_of",
    "broadcast_audience_preview",
    "broadcast_materialise",
    "broadcast_pause",
    "broadcast_results",
    "broadcast_resume",
    "broadcast_schedule",
    "broadcasts_materialise_due",
    "bucket_of",
    "uplift_ci",
]
