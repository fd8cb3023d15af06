"""WeChat account APIs beyond messages: parametric QR codes, follower info, web OAuth, WeCom contacts.

Every call goes through ``WeChatSender.query`` (shared token, timeout, no unbounded retries) except the
OAuth code exchange, which authenticates with the app secret instead of an access token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import requests
from django.conf import settings
from django.utils import timezone

from .client import SendResult, WeChatApiError, WeChatSender

QR_TEMPORARY_MAX_SECONDS = 30 * 24 * 3600  # WeChat's limit for temporary QR codes
#: WeCom: the unionid is not an external contact of the corp (yet).
WECOM_NOT_A_CONTACT = 84061


@dataclass(frozen=True)
class QrCode:
    ticket: str
    url: str  # what the QR encodes
    image_url: str  # showqrcode: the QR as an image
    expires_at: datetime | None  # None: a permanent code


def showqrcode_url(ticket: str) -> str:
    return f"{settings.WECHAT_MP_BASE_URL}showqrcode?{urlencode({'ticket': ticket})}"


def qrcode_create(*, scene: str, expire_seconds: int | None, sender: WeChatSender | None = None) -> QrCode:
    """A parametric QR code with a string scene: temporary (``QR_STR_SCENE``) when ``expire_seconds`` is
    given, else permanent (``QR_LIMIT_STR_SCENE``, for store and guide codes)."""
    sender = sender or WeChatSender.from_settings()
    data: dict = {"action_info": {"scene": {"scene_str": scene}}}
    if expire_seconds is None:
        data["action_name"] = "QR_LIMIT_STR_SCENE"
    else:
        data["action_name"] = "QR_STR_SCENE"
        data["expire_seconds"] = min(int(expire_seconds), QR_TEMPORARY_MAX_SECONDS)
    answer = sender.query(call=lambda mp: mp.qrcode.create(data))
    seconds = answer.get("expire_seconds")
    return QrCode(
        ticket=answer["ticket"],
        url=answer.get("url", ""),
        image_url=showqrcode_url(answer["ticket"]),
        expires_at=timezone.now() + timedelta(seconds=int(seconds)) if seconds else None,
    )


def follower_unionid(*, openid: str, sender: WeChatSender | None = None) -> str | None:
    """The follower's unionid from ``user/info`` (only when the account is linked to an Open Platform);
    None when WeChat has none or cannot say right now (the binding goes ahead without it)."""
    sender = sender or WeChatSender.from_settings()
    try:
        info = sender.query(call=lambda mp: mp.user.get(openid))
    except WeChatApiError:
        return None
    return info.get("unionid") or None


# -- web OAuth (the member card inside WeChat) ---------------------------------------------------------------


def oauth_authorize_url(*, redirect_uri: str, state: str) -> str:
    """Where WeChat asks the member (silently, ``snsapi_base``) for their openid, then returns with a code."""
    return (
        f"{settings.WECHAT_OPEN_BASE_URL}connect/oauth2/authorize?appid={quote(settings.WECHAT_APP_ID)}"
        f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code&scope=snsapi_base"
        f"&state={quote(state)}#wechat_redirect"
    )


def oauth_openid(*, code: str) -> str:
    """The openid for an OAuth ``code`` (``sns/oauth2/access_token``; WeChat accepts each code once)."""
    base = settings.WECHAT_API_BASE_URL.removesuffix("cgi-bin/")
    try:
        response = requests.get(
            f"{base}sns/oauth2/access_token",
            params={
                "appid": settings.WECHAT_APP_ID,
                "secret": settings.WECHAT_APP_SECRET,
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=settings.WECHAT_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise WeChatApiError(SendResult("retry", None, exc.__class__.__name__)) from exc
    if body.get("errcode") or not body.get("openid"):
        raise WeChatApiError(SendResult("permanent_failure", body.get("errcode"), body.get("errmsg", "")))
    return str(body["openid"])


# -- WeCom external contacts ---------------------------------------------------------------------------------


def wecom_external_userid(*, unionid: str, openid: str, sender: WeChatSender | None = None) -> str | None:
    """The customer's WeCom external user id for their unionid, or None when they are no one's contact."""
    sender = sender or WeChatSender.from_settings()
    try:
        answer = sender.query(
            wecom=True,
            call=lambda cp: cp.post(
                "externalcontact/unionid_to_external_userid", data={"unionid": unionid, "openid": openid}
            ),
        )
    except WeChatApiError as exc:
        if exc.errcode == WECOM_NOT_A_CONTACT:
            return None
        raise
    return answer.get("external_userid") or None


def wecom_contact_unionid(*, external_userid: str, sender: WeChatSender | None = None) -> str:
    """The unionid WeCom knows for an external contact ('' when the customer has none)."""
    sender = sender or WeChatSender.from_settings()
    answer = sender.query(wecom=True, call=lambda cp: cp.external_contact.get(external_userid))
    return str((answer.get("external_contact") or {}).get("unionid") or "")
