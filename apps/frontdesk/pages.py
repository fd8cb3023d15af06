"""What every store clerk page shares: who the clerk is and which store they are serving.

A clerk page is wrapped in ``store_page``: it needs a logged-in, active staff member with the
``stores.use_store_pages`` permission and at least one store; ``request.staff`` and ``request.store``
are then set. Queries in clerk pages are scoped to ``request.staff_store_ids``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError
from apps.stores.models import Store
from apps.stores.selectors import staff_for_user

SESSION_STORE_KEY = "store_code"


def store_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        staff = staff_for_user(request.user)
        if staff is None or not staff.is_active or not request.user.has_perm("stores.use_store_pages"):
            return render(request, "store/not_store_staff.html", status=403)
        stores = list(staff.stores.filter(is_active=True).order_by("code"))
        if not stores:
            return render(request, "store/not_store_staff.html", {"no_store": True}, status=403)
        chosen = request.session.get(SESSION_STORE_KEY)
        request.staff = staff
        request.staff_stores = stores
        request.staff_store_ids = [s.pk for s in stores]
        request.store = next((s for s in stores if s.code == chosen), stores[0])
        return view(request, *args, **kwargs)

    return wrapper


def store_choose(request: HttpRequest, code: str) -> Store | None:
    """Switch the store a clerk is serving, among their own stores only."""
    store = next((s for s in request.staff_stores if s.code == code), None)
    if store is not None:
        request.session[SESSION_STORE_KEY] = store.code
        request.store = store
    return store


# -- what clerk pages share beyond the login --------------------------------------------------------------

audit_log = logging.getLogger("apps.stores.audit")

# Stable error codes -> what a clerk reads. Services' own details are English and technical; these are
# translated, say what happened and what to do next.
FRIENDLY_ERRORS: dict[str, Promise | str] = {
    "invalid_phone": _("That does not look like a phone number. Check the digits and try again."),
    "member_not_found": _("No member matches that phone number or card code. Check it, or register a new member."),
    "member_not_active": _("This membership was merged into another one or closed."),
    "identity_conflict": _("This WeChat account is already bound to another member."),
    "invalid_member": _("Some details are not valid. Check the name and the birthday."),
    "insufficient_points": _("The member does not have enough points for this reward."),
    "reward_unavailable": _("This reward is not available at the moment."),
    "unknown_sku": _("We could not find that product. Check the SKU code or scan it again."),
    "out_of_stock": _("There is not enough stock in this store for one of the items."),
    "price_mismatch": _("A price changed while you were working. Check the prices again."),
    "order_not_found": _("There is no such order in your stores."),
    "already_verified": _("This voucher has already been used."),
    "invalid_verification_code": _("This verification code is not right. Check it and try again."),
    "not_a_voucher": _("This order is not a voucher."),
    "unknown_store": _("This store is not open for sales."),
    "validation_error": _("Some details are missing or not valid. Check the form."),
    "insufficient_balance": _("The member card does not hold enough for this payment."),
    "payments_mismatch": _("The amount from the member card is more than the sale's total."),
    "invalid_amount": _("Enter an amount above zero and within the recharge limit."),
}


def friendly_error(error: DomainError) -> str:
    """The translated message a clerk sees for a service's refusal."""
    if error.is_for_people:  # translated where it was raised (coupon refusals): shown as it is
        return str(error.detail)
    message = FRIENDLY_ERRORS.get(error.code)
    if message is not None:
        return str(message)
    return gettext("That could not be done: %(detail)s") % {"detail": error.message}


def member_in_scope(request: HttpRequest, member) -> bool:
    """Whether the clerk may see this member's details (the policy is ``orders.selectors.member_in_clerk_scope``)."""
    from apps.orders.selectors import member_in_clerk_scope

    return member_in_clerk_scope(member=member, store_ids=request.staff_store_ids)


def audit(request: HttpRequest, action: str, **details: object) -> None:
    """Who did what, where, when (UTC): one log line per redemption, sale, verification or exchange."""
    audit_log.info(
        "%s staff=%s user=%s store=%s at=%s %s",
        action,
        request.staff.code,
        request.user.pk,
        request.store.code,
        timezone.now().isoformat(),
        " ".join(f"{k}={v}" for k, v in details.items()),
    )


def qr_svg(data: str, *, scale: int = 5) -> str:
    """A QR code as inline SVG, made on the server (segno: pure Python; no CDN, no JavaScript)."""
    import segno

    # Safe to mark: the SVG holds only path data drawn by segno, never the encoded text itself.
    return mark_safe(
        segno.make(data, error="m", micro=False).svg_inline(scale=scale, border=2, dark="#17202a", omitsize=True)
    )
