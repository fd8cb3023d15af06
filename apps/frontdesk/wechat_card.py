"""``/m/``: the member card inside WeChat, through WeChat's web OAuth (``snsapi_base``, silent).

``/m/`` sends the member to WeChat's authorize page with a fresh ``state`` kept in their session; WeChat
returns to ``/m/oauth/`` with a one-time ``code``, which is exchanged for the member's openid. The openid is
kept in the session (so reloading the card needs no new code) and the card of the member bound to it is
shown; an openid bound to no member gets a page saying how to join. A wrong or missing state, or a code
WeChat refuses (used before, expired), gets a clear page and changes nothing.
"""

from __future__ import annotations

import hmac
import secrets

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.campaigns.wechat.accounts import oauth_authorize_url, oauth_openid
from apps.campaigns.wechat.client import WeChatApiError
from apps.members.errors import MemberNotFound
from apps.members.selectors import member_get

from .card_views import member_card_page

SESSION_STATE = "wechat_oauth_state"
SESSION_OPENID = "wechat_openid"
CODE_REFUSED = frozenset({40029, 40163})  # invalid code; code already used


@never_cache
@require_GET
def member_card_wechat(request: HttpRequest) -> HttpResponse:
    openid = request.session.get(SESSION_OPENID)
    if not openid:
        state = secrets.token_urlsafe(16)
        request.session[SESSION_STATE] = state
        return_to = request.build_absolute_uri(reverse("wechat-oauth-return"))
        return redirect(oauth_authorize_url(redirect_uri=return_to, state=state))
    try:
        member = member_get(openid=openid)
    except MemberNotFound:
        return render(request, "member/wechat_join.html", status=200)
    return member_card_page(request, member)


@never_cache
@require_GET
def wechat_oauth_return(request: HttpRequest) -> HttpResponse:
    expected = request.session.pop(SESSION_STATE, None)
    state, code = request.GET.get("state", ""), request.GET.get("code", "")
    if not expected or not code or not hmac.compare_digest(expected.encode(), state.encode()):
        return render(request, "member/wechat_signin_failed.html", {"reason": "state"}, status=400)
    try:
        openid = oauth_openid(code=code)
    except WeChatApiError as exc:
        refused = exc.errcode in CODE_REFUSED
        return render(
            request,
            "member/wechat_signin_failed.html",
            {"reason": "code" if refused else "unavailable"},
            status=400 if refused else 503,
        )
    request.session.cycle_key()
    request.session[SESSION_OPENID] = openid
    return redirect("wechat-card")
