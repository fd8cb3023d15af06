"""The member 360° page of the console: one member's whole story on one page.

It combines members, orders, loyalty, insights and campaigns, so it lives here, above every app (the site's
wiring), and reads each part through that app's selectors. Each part is one bounded, indexed query, so the
page costs the same number of queries for a member with one order as for one with ten thousand.
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from apps.campaigns.selectors import outbox_for_member
from apps.insights.selectors import member_profile_for_console
from apps.loyalty.selectors import (
    coupon_templates_issuable,
    coupons_recent_for_member,
    points_adjustments,
    points_recent_entries,
)
from apps.members.codes import member_code_is_valid
from apps.members.errors import InvalidPhone, MemberNotFound
from apps.members.models import Member
from apps.members.phones import phone_mask
from apps.members.selectors import (
    member_consents,
    member_for_console,
    member_get,
    member_identities,
    member_merges,
    member_tier_changes,
    tier_progress,
)
from apps.orders.selectors import orders_recent_for_member

# How many rows each section shows; the full history is one link away (the filtered list).
ORDERS_SHOWN = 20
ROWS_SHOWN = 20


# -- optional parts: shown when the app that owns them is installed and has data ---------------------------


def _optional(module: str, name: str):
    """``module.name`` when that module exists (another branch's app may not be there yet), else None."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def member_wallet_balance(*, member_id: int) -> Decimal | None:
    """The member's stored-value balance, or None where the wallet does not exist (yet)."""
    wallet_balance = _optional("apps.loyalty.wallet.selectors", "wallet_balance")
    if wallet_balance is None:
        return None
    return wallet_balance(member_id=member_id).balance


def member_p_alive(*, member_id: int) -> float | None:
    """The probability the member is still a customer (BG/NBD), or None before a fit or without the model."""
    member_clv = _optional("apps.insights.clv.selectors", "member_clv")
    if member_clv is None:
        return None
    clv, _band = member_clv(member_id=member_id)
    return None if clv is None else clv["p_alive"]


# -- the page ----------------------------------------------------------------------------------------------


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def member_360_context(*, member: Member, request: HttpRequest) -> dict[str, Any]:
    """Everything the 360° page shows about ``member``; what the user may not see or do is left out."""
    user = request.user
    pk = member.pk
    profile, tags = member_profile_for_console(member_id=pk)
    orders = orders_recent_for_member(member_id=pk, limit=ORDERS_SHOWN + 1)
    may_see_phone = user.has_perm("members.view_full_phone")
    return {
        "member": member,
        "phone_masked": phone_mask(member.phone) if member.phone else "",
        "phone_full": member.phone if may_see_phone else None,
        "progress": tier_progress(member=member) if member.status == Member.Status.ACTIVE else None,
        "wallet_balance": member_wallet_balance(member_id=pk),
        "p_alive": member_p_alive(member_id=pk),
        "orders": orders[:ORDERS_SHOWN],
        "orders_more": len(orders) > ORDERS_SHOWN,
        "orders_url": f"{reverse('admin:orders_order_changelist')}?q={member.code}",
        "points_entries": list(points_recent_entries(member_id=pk, limit=ROWS_SHOWN)),
        "points_url": f"{reverse('admin:loyalty_pointsentry_changelist')}?q={member.code}",
        "coupons": coupons_recent_for_member(member_id=pk, limit=ROWS_SHOWN),
        "coupons_url": f"{reverse('admin:loyalty_coupon_changelist')}?q={member.code}",
        "profile": profile,
        "tags": tags,
        "outbox": outbox_for_member(member_id=pk, limit=ROWS_SHOWN),
        "outbox_url": f"{reverse('admin:campaigns_outboxmessage_changelist')}?q={member.code}",
        "identities": member_identities(member_id=pk),
        "consents": member_consents(member_id=pk),
        "tier_changes": member_tier_changes(member_id=pk, limit=ROWS_SHOWN),
        "merges": member_merges(member_id=pk, limit=ROWS_SHOWN),
        "adjustments": points_adjustments(member_id=pk, limit=ROWS_SHOWN),
        # actions: the existing console forms, offered to those allowed to use them
        "edit_url": (
            reverse("admin:members_member_change", args=[pk]) if user.has_perm("members.change_member") else None
        ),
        "adjust_url": (
            f"{reverse('admin:loyalty_pointsentry_adjust')}?member={member.code}"
            if user.has_perm("loyalty.adjust_points") and member.status == Member.Status.ACTIVE
            else None
        ),
        "coupon_templates": (
            coupon_templates_issuable()
            if user.has_perm("loyalty.change_coupontemplate") and member.status == Member.Status.ACTIVE
            else []
        ),
        "may_merge_or_erase": user.has_perm("members.change_member") and member.status == Member.Status.ACTIVE,
        "members_url": reverse("admin:members_member_changelist"),
        "merge_url": reverse("admin:members_member_360_merge", args=[pk]),
        "tag_page_url": _url("insights:member_tags", member.code),
    }


def member_360_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET /admin/members/member/<pk>/360/: the member's 360° page (needs the member view permission)."""
    if not request.user.has_perm("members.view_member"):
        raise PermissionDenied
    member = member_for_console(member_id=pk)
    if member is None:
        raise Http404
    context = {
        **admin.site.each_context(request),
        "opts": Member._meta,
        "title": _("Member %(code)s") % {"code": member.code},
        **member_360_context(member=member, request=request),
    }
    return TemplateResponse(request, "admin/members/member_360.html", context)


def member_360_merge_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this member with another found by code or phone, through the member list's merge action."""
    if not request.user.has_perm("members.change_member"):
        raise PermissionDenied
    member = member_for_console(member_id=pk)
    if member is None:
        raise Http404
    model_admin = admin.site._registry[Member]
    back = reverse("admin:members_member_360", args=[pk])
    if request.method == "POST":  # the confirmation page posts back here
        selected = [int(v) for v in request.POST.getlist("_selected_action") if v.isdigit()]
        model_admin.merge_members(request, Member.objects.filter(pk__in=selected))
        survivor = Member.objects.filter(code=request.POST.get("survivor", "")).values_list("pk", flat=True).first()
        return HttpResponseRedirect(reverse("admin:members_member_360", args=[survivor]) if survivor else back)
    term = (request.GET.get("other") or "").strip()
    try:
        other = member_get(code=term) if member_code_is_valid(term) else member_get(phone=term)
    except (MemberNotFound, InvalidPhone):
        model_admin.message_user(request, _("No member matches %(term)s.") % {"term": term or "–"}, level="error")
        return HttpResponseRedirect(back)
    return model_admin.merge_members(request, Member.objects.filter(pk__in=[member.pk, other.pk])) or (
        HttpResponseRedirect(back)
    )
