"""The member's own card page (``/m/<token>/``): reached by a signed, expiring link.

Inside WeChat members come through OAuth instead (``/m/``, apps.frontdesk.wechat_card), which renders
the same page. The token names one member; changing it breaks the signature.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.loyalty.selectors import member_coupons, points_expiring
from apps.loyalty.wallet.selectors import wallet_balance
from apps.members.errors import MemberNotFound
from apps.members.models import Member
from apps.members.nearby import stores_near_member
from apps.members.phones import phone_mask
from apps.members.selectors import member_get, tier_progress

from .card_links import CardLinkExpired, CardLinkInvalid, card_token_read
from .pages import qr_svg


@never_cache
@require_GET
def member_card(request: HttpRequest, token: str) -> HttpResponse:
    try:
        member = member_get(code=card_token_read(token=token))
    except (CardLinkInvalid, MemberNotFound) as exc:
        return render(request, "member/link_invalid.html", {"expired": isinstance(exc, CardLinkExpired)}, status=403)
    return member_card_page(request, member)


def member_card_page(request: HttpRequest, member: Member) -> HttpResponse:
    """The card of ``member``, however the member was recognised (signed link or WeChat sign-in)."""
    nearby = stores_near_member(member=member, lat=request.GET.get("lat"), lng=request.GET.get("lng"))
    context = {
        "member": member,
        "phone": phone_mask(member.phone),
        "qr": qr_svg(member.code, scale=6),
        "progress": tier_progress(member=member),
        "expiring": points_expiring(member_id=member.pk)[:3],
        "coupons": list(member_coupons(member_id=member.pk, status="available")[:20]),
        "stores": nearby.stores,
        "nearby": nearby,
        "wallet": wallet_balance(member_id=member.pk),
    }
    return render(request, "member/card.html", context)
