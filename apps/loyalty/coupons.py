"""Coupons: issuing (one or set-based), evaluating a cart, redeeming exactly once, restoring, expiring.

Redemption is one conditional ``UPDATE ... WHERE status = 'issued'``: of many simultaneous redemptions of
a code exactly one changes the row; the others are told why not.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Category
from apps.core.db import require_transaction
from apps.core.errors import DomainError
from apps.core.money import quantize_money
from apps.members.models import Member

from .errors import (
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponIssueRefused,
    CouponMinSpend,
    CouponNotFound,
    CouponNotInCart,
    CouponNotStackable,
    CouponNotYetValid,
    CouponNotYours,
    CouponWrongCategory,
    CouponWrongChannel,
    CouponWrongStore,
)
from .models import Coupon, CouponTemplate

CODE_BYTES = 8  # 16 hex characters, 64 random bits


def coupon_code_new() -> str:
    return secrets.token_hex(CODE_BYTES).upper()


# -- strategies ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discount:
    amount: Decimal
    reason: str = ""


class AmountOff:
    def __init__(self, template: CouponTemplate) -> None:
        self.value = template.value

    def discount(self, applicable_subtotal: Decimal) -> Discount:
        return Discount(min(self.value, applicable_subtotal), f"{self.value} off")


class PercentOff:
    def __init__(self, template: CouponTemplate) -> None:
        self.percent, self.cap = template.value, template.max_discount

    def discount(self, applicable_subtotal: Decimal) -> Discount:
        amount = quantize_money(applicable_subtotal * self.percent / 100)
        if self.cap is not None:
            amount = min(amount, self.cap)
        return Discount(amount, f"{self.percent}% off" + (f", at most {self.cap}" if self.cap is not None else ""))


STRATEGIES = {CouponTemplate.Kind.AMOUNT: AmountOff, CouponTemplate.Kind.PERCENT: PercentOff}


# -- evaluation --------------------------------------------------------------------------------------------


@dataclass
class CartLine:
    sku_id: int
    category_id: int | None
    quantity: int
    unit_price: Decimal

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Cart:
    member_id: int | None
    store_id: int | None
    channel_id: int
    lines: list[CartLine] = field(default_factory=list)


@dataclass
class CouponEvaluation:
    code: str
    applies: bool
    discount: Decimal
    #: why it does not apply (a ``CouponRefused`` with its precise code), else None
    error: DomainError | None = None
    #: what it takes off, in words, when it applies
    description: str = ""
    #: indexes of the cart lines the discount applies to (for spreading it over lines)
    line_indexes: list[int] = field(default_factory=list)
    stackable: bool = False

    @property
    def reason_code(self) -> str | None:
        return str(self.error.code) if self.error else None

    @property
    def reason(self) -> str:
        """The translated refusal, or what the coupon takes off."""
        return str(self.error.detail) if self.error else self.description


def _category_ancestors() -> dict[int, set[int]]:
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    result: dict[int, set[int]] = {}
    for pk in parents:
        chain, node = set(), pk
        while node is not None and node not in chain:
            chain.add(node)
            node = parents.get(node)
        result[pk] = chain
    return result


def _refuse(code: str, error: DomainError) -> CouponEvaluation:
    return CouponEvaluation(code, False, Decimal("0.00"), error)


def _day(at: datetime) -> str:
    return f"{timezone.localtime(at):%Y-%m-%d}"


def _refusal(coupon: Coupon, cart: Cart, at: datetime) -> DomainError | None:
    """The first rule this coupon breaks for this member's cart here, checked in a fixed order, or None.

    Its state comes first (used, expired, not yet valid: what anyone holding the code may learn), then whose
    it is, then where it may be used."""
    template = coupon.template
    if coupon.status == Coupon.Status.REDEEMED:
        return CouponAlreadyRedeemed(
            _("This coupon has already been used (on %(day)s).") % {"day": _day(coupon.redeemed_at or at)}
        )
    if coupon.status != Coupon.Status.ISSUED or coupon.expires_at <= at:
        return CouponExpired(_("This coupon expired on %(day)s.") % {"day": _day(coupon.expires_at)})
    if coupon.valid_from > at:
        return CouponNotYetValid(_("This coupon is valid from %(day)s.") % {"day": _day(coupon.valid_from)})
    if coupon.member_id is not None and coupon.member_id != cart.member_id:
        return CouponNotYours()
    if (stores := {s.pk for s in template.stores.all()}) and cart.store_id not in stores:
        return CouponWrongStore()
    if (channels := {c.pk for c in template.channels.all()}) and cart.channel_id not in channels:
        return CouponWrongChannel()
    return None


def coupons_evaluate(*, cart: Cart, codes: Sequence[str], at: datetime | None = None) -> list[CouponEvaluation]:
    """For each code, in order: does it apply to this member's cart here, and how much does it take off?

    The one coupon eligibility: orders, the sale quote and standalone redemption all ask it. Checks run in a
    fixed order and the first failing one is the reason. Later coupons are valued on what earlier ones left,
    so the discounts never exceed the cart.
    """
    at = at or timezone.now()
    wanted = [c.strip().upper() for c in codes]
    coupons = {
        c.code: c
        for c in Coupon.objects.filter(code__in=wanted)
        .select_related("template")
        .prefetch_related("template__stores", "template__channels", "template__categories")
    }
    ancestors = _category_ancestors() if any(c.template.categories.all() for c in coupons.values()) else {}
    left = [line.subtotal for line in cart.lines]
    results: list[CouponEvaluation] = []
    applied: list[CouponEvaluation] = []
    seen: set[str] = set()
    for code in wanted:
        coupon = coupons.get(code)
        if coupon is None or code in seen:
            results.append(
                _refuse(code, CouponNotInCart(_("There is no coupon with this code, or it is listed twice.")))
            )
            continue
        seen.add(code)
        template = coupon.template
        refusal = _refusal(coupon, cart, at)
        if refusal is not None:
            results.append(_refuse(code, refusal))
            continue
        categories = {c.pk for c in template.categories.all()}
        indexes = [
            i
            for i, line in enumerate(cart.lines)
            if not categories or (line.category_id is not None and ancestors.get(line.category_id, set()) & categories)
        ]
        applicable = sum((cart.lines[i].subtotal for i in indexes), Decimal("0"))
        if not indexes:
            results.append(_refuse(code, CouponWrongCategory()))
        elif applicable < template.min_spend:
            results.append(
                _refuse(
                    code,
                    CouponMinSpend(
                        _("Spend at least %(min_spend)s on eligible items (%(spent)s so far).")
                        % {"min_spend": template.min_spend, "spent": quantize_money(applicable)}
                    ),
                )
            )
        elif applied and not (template.is_stackable and all(a.stackable for a in applied)):
            results.append(_refuse(code, CouponNotStackable()))
        else:
            remaining = sum((left[i] for i in indexes), Decimal("0"))
            discount = STRATEGIES[template.kind](template).discount(remaining)
            evaluation = CouponEvaluation(
                code, True, discount.amount, None, discount.reason, indexes, template.is_stackable
            )
            # What this coupon took off is no longer there for the next one (proportionally per line).
            if remaining > 0:
                for i in indexes:
                    left[i] -= quantize_money(discount.amount * left[i] / remaining)
            results.append(evaluation)
            applied.append(evaluation)
    return results


# -- issuing ------------------------------------------------------------------------------------------------


def _validity(template: CouponTemplate, at: datetime) -> tuple[datetime, datetime]:
    valid_from = max(template.valid_from, at) if template.valid_from else at
    ends = [
        t
        for t in (template.valid_until, at + timedelta(days=template.valid_days) if template.valid_days else None)
        if t
    ]
    return valid_from, min(ends)


@transaction.atomic
def coupon_issue(*, template: CouponTemplate, member: Member | None, at: datetime | None = None) -> Coupon:
    """Issue one coupon of ``template`` (to ``member``), within its total and per-member limits."""
    at = at or timezone.now()
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if not locked.is_active:
        raise CouponIssueRefused("This coupon is not being issued.")
    valid_from, expires_at = _validity(locked, at)
    if expires_at <= at:
        raise CouponIssueRefused("This coupon's validity has ended.")
    if locked.total_limit is not None and locked.issued_count >= locked.total_limit:
        raise CouponIssueRefused("All of these coupons have been issued.")
    if member is not None and locked.per_member_limit is not None:
        held = Coupon.objects.filter(template=locked, member=member).count()
        if held >= locked.per_member_limit:
            raise CouponIssueRefused("The member already has as many of these coupons as allowed.")
    CouponTemplate.objects.filter(pk=locked.pk).update(issued_count=F("issued_count") + 1)
    return Coupon.objects.create(
        code=coupon_code_new(),
        template=locked,
        member=member,
        issued_at=at,
        valid_from=valid_from,
        expires_at=expires_at,
    )


@transaction.atomic
def coupons_issue_bulk(
    *, template: CouponTemplate, member_ids: Iterable[int] | None = None, at: datetime | None = None
) -> int:
    """Issue one coupon to each member (all active members when ``member_ids`` is None), set-based.

    Members already at the per-member limit are skipped; the total limit caps how many are issued.
    """
    at = at or timezone.now()
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if not locked.is_active:
        raise CouponIssueRefused("This coupon is not being issued.")
    valid_from, expires_at = _validity(locked, at)
    remaining = None if locked.total_limit is None else locked.total_limit - locked.issued_count
    if remaining is not None and remaining <= 0:
        return 0
    members, coupons = Member._meta.db_table, Coupon._meta.db_table
    random_code = "upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16))"
    # What each member already holds of this template, aggregated once (not a subquery per member).
    held = (
        f"LEFT JOIN (SELECT member_id, COUNT(*) AS n, MAX(CASE WHEN issued_at = %s THEN 1 ELSE 0 END) AS this_run "
        f"FROM {coupons} WHERE template_id = %s AND member_id IS NOT NULL GROUP BY member_id) held "
        f"ON held.member_id = m.id"
    )
    held_params: list = [at, locked.pk]
    # One coupon per member per run, also across the retry pass for code collisions.
    where, params = ["m.status = 'active'", "COALESCE(held.this_run, 0) = 0"], []
    if member_ids is not None:
        ids = list(member_ids)
        if not ids:
            return 0
        from apps.core.bulk import load_staging

        load_staging("issue_targets", [("member_id", "bigint")], ((i,) for i in ids))
        where.append("m.id IN (SELECT member_id FROM issue_targets)")
    if locked.per_member_limit is not None:
        where.append("COALESCE(held.n, 0) < %s")
        params.append(locked.per_member_limit)
    source = f"FROM {members} m {held} WHERE {' AND '.join(where)}"
    issued = 0
    with connection.cursor() as cursor:
        for _attempt in range(5):  # a second pass only for the rare code collision
            limit = "" if remaining is None else f"ORDER BY m.id LIMIT {int(remaining)}"
            cursor.execute(
                f"INSERT INTO {coupons} (code, template_id, member_id, status, issued_at, valid_from, expires_at, "
                f"redeemed_order) "
                f"SELECT {random_code}, %s, m.id, 'issued', %s, %s, %s, '' {source} {limit} "
                f"ON CONFLICT (code) DO NOTHING",
                [locked.pk, at, valid_from, expires_at, *held_params, *params],
            )
            issued += cursor.rowcount
            if remaining is not None:
                remaining -= cursor.rowcount
                if remaining <= 0:
                    break
            # Members left out only because their random code collided get another try.
            cursor.execute(f"SELECT COUNT(*) {source}", [*held_params, *params])
            if cursor.fetchone()[0] == 0:
                break
        if member_ids is not None:
            cursor.execute("DROP TABLE IF EXISTS issue_targets")
    CouponTemplate.objects.filter(pk=locked.pk).update(issued_count=F("issued_count") + issued)
    return issued


# -- redeeming ----------------------------------------------------------------------------------------------


def coupon_redeem(
    *,
    code: str,
    store_id: int | None,
    channel_id: int | None = None,
    member_id: int | None = None,
    amount: Decimal | None = None,
    order_number: str | None = None,
    staff_id: int | None = None,
    at: datetime | None = None,
) -> Coupon:
    """Use a coupon once outside an order: the member who holds it, against a purchase of ``amount``.

    The same eligibility as in an order (``coupons_evaluate``): the owner, validity, store, channel, the
    minimum spend against ``amount`` (no amount: nothing spent) and categories (a bare amount has none, so a
    coupon for some categories is used in an order, where the lines say what was bought). Refused with the
    precise reason; of many simultaneous attempts one wins, the rest get ``coupon_already_redeemed``.
    """
    at = at or timezone.now()
    code = code.strip().upper()
    spent = quantize_money(amount) if amount is not None else Decimal("0.00")
    cart = Cart(member_id=member_id, store_id=store_id, channel_id=channel_id or 0)
    cart.lines.append(CartLine(sku_id=0, category_id=None, quantity=1, unit_price=spent))
    [evaluation] = coupons_evaluate(cart=cart, codes=[code], at=at)
    if isinstance(evaluation.error, CouponNotInCart):
        raise CouponNotFound(evaluation.error.detail)  # the code names no coupon: this coupon's URL is not found
    if evaluation.error is not None:
        raise evaluation.error
    with transaction.atomic(durable=True):
        coupons_spend_in_transaction(
            codes=[code],
            store_id=store_id,
            channel_id=channel_id,
            order_number=order_number,
            staff_id=staff_id,
            at=at,
        )
    return Coupon.objects.select_related("template").get(code=code)


def coupons_spend_in_transaction(
    *,
    codes: Sequence[str],
    store_id: int | None,
    channel_id: int | None = None,
    order_number: str | None = None,
    staff_id: int | None = None,
    at: datetime,
) -> None:
    """Mark evaluated coupons used, all or none, inside the caller's transaction.

    Lock policy: the rows are locked in primary-key order, whatever order the request listed them in, so
    two orders sharing the same coupons queue on the first one instead of deadlocking.
    """
    require_transaction("coupons_spend_in_transaction")
    wanted = sorted({c.strip().upper() for c in codes})
    locked = list(
        Coupon.objects.select_for_update(no_key=True)
        .filter(code__in=wanted)
        .order_by("pk")
        .values_list("pk", "code", "status", "expires_at", "redeemed_at")
    )
    for _pk, code, status, expires_at, redeemed_at in locked:
        if status == Coupon.Status.REDEEMED:
            raise CouponAlreadyRedeemed(
                _("Coupon %(code)s was used on %(when)s.")
                % {"code": code, "when": f"{timezone.localtime(redeemed_at):%Y-%m-%d %H:%M}"}
            )
        if status != Coupon.Status.ISSUED or expires_at <= at:
            raise CouponExpired(_("Coupon %(code)s has expired.") % {"code": code})
    if len(locked) != len(wanted):
        raise CouponNotFound()
    Coupon.objects.filter(pk__in=[row[0] for row in locked]).update(
        status=Coupon.Status.REDEEMED,
        redeemed_at=at,
        redeemed_store_id=store_id,
        redeemed_channel_id=channel_id,
        redeemed_order=(order_number or "")[:64],
        redeemed_by_id=staff_id,
    )


def coupon_restore(*, code: str, reason: str = "", at: datetime | None = None) -> Coupon:
    """Give a redeemed coupon back (its order was fully refunded) if it is still within its validity."""
    at = at or timezone.now()
    Coupon.objects.filter(code=code, status=Coupon.Status.REDEEMED, expires_at__gt=at).update(
        status=Coupon.Status.ISSUED,
        redeemed_at=None,
        redeemed_store=None,
        redeemed_channel=None,
        redeemed_order="",
        redeemed_by=None,
    )
    return Coupon.objects.get(code=code)


def coupons_expire_due(*, now: datetime | None = None) -> int:
    """Mark issued coupons past their expiry as expired (one statement)."""
    return Coupon.objects.filter(status=Coupon.Status.ISSUED, expires_at__lte=now or timezone.now()).update(
        status=Coupon.Status.EXPIRED
    )


def template_counts() -> dict[int, dict[str, int]]:
    rows = Coupon.objects.values("template_id").annotate(
        issued=Count("id"),
        redeemed=Count("id", filter=Q(status=Coupon.Status.REDEEMED)),
        expired=Count("id", filter=Q(status=Coupon.Status.EXPIRED)),
    )
    return {r["template_id"]: r for r in rows}


def coupons_merge(*, survivor_id: int, merged_id: int) -> dict[str, int]:
    """Merge hook: the merged member's coupons now belong to the survivor."""
    return {"coupons": Coupon.objects.filter(member_id=merged_id).update(member_id=survivor_id)}
