"""Clerk page: a member's tags, with the manual ones a clerk can set or take off."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.core.errors import DomainError
from apps.insights.clv.selectors import member_likely_to_buy
from apps.insights.models import Tag
from apps.insights.selectors import member_profile_card
from apps.insights.services import member_tag_add, member_tag_remove
from apps.members.errors import MemberNotFound
from apps.members.selectors import member_get

from .pages import member_in_scope, store_page


@require_http_methods(["GET", "POST"])
@store_page
def member_tags(request: HttpRequest, code: str) -> HttpResponse:
    try:
        member = member_get(code=code)
    except MemberNotFound:
        return render(request, "store/not_store_staff.html", status=404)
    if not member_in_scope(request, member):
        return render(request, "store/not_store_staff.html", status=403)
    if request.method == "POST":
        tag_code = request.POST.get("tag", "")
        try:
            if request.POST.get("remove"):
                member_tag_remove(member=member, tag_code=tag_code)
                messages.success(request, _("Tag taken off."))
            else:
                member_tag_add(member=member, tag_code=tag_code, by=request.user)
                messages.success(request, _("Tag added."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("insights:member_tags", code=member.code)
    card = member_profile_card(member=member)
    manual = list(Tag.objects.filter(kind=Tag.Kind.MANUAL).order_by("name").values_list("code", "name"))
    manual_codes = {c for c, _n in manual}
    context = {
        "member": member,
        "card": card,
        "manual_on": [t for t in card["tags"] if t in manual_codes],
        "other_tags": [t for t in card["tags"] if t not in manual_codes],
        "available": [(c, n) for c, n in manual if c not in card["tags"]],
        "likely_to_buy": member_likely_to_buy(member_id=member.pk),
    }
    return render(request, "store/member_tags.html", context)
