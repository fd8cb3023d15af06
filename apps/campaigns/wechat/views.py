"""``/wechat/callback``: the Official Account's server endpoint (see ../shared/API.md); ``/wecom/callback``:
the WeCom app's (external-contact changes)."""

from __future__ import annotations

import logging

import xmltodict
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as EnterpriseCrypto
from wechatpy.exceptions import InvalidSignatureException

from .callback import dedupe_key, signature_is_valid, wecom_signature_is_valid
from .events import callback_event_handle, wecom_event_handle

logger = logging.getLogger(__name__)
DEDUPE_SECONDS = 600


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wechat_callback(request: HttpRequest) -> HttpResponse:
    """Verify, answer the echo check, apply events once (WeChat retries), answer fast with ``success``."""
    q = request.GET
    if not signature_is_valid(
        token=settings.WECHAT_TOKEN,
        signature=q.get("signature", ""),
        timestamp=q.get("timestamp", ""),
        nonce=q.get("nonce", ""),
    ):
        return HttpResponseForbidden("invalid signature")
    if request.method == "GET":
        return HttpResponse(q.get("echostr", ""), content_type="text/plain")
    body = request.body.decode("utf-8", errors="replace")
    if q.get("encrypt_type") == "aes":
        try:
            crypto = WeChatCrypto(settings.WECHAT_TOKEN, settings.WECHAT_AES_KEY, settings.WECHAT_APP_ID)
            body = crypto.decrypt_message(body, q.get("msg_signature", ""), q.get("timestamp"), q.get("nonce"))
        except (InvalidSignatureException, ValueError, KeyError):
            return HttpResponseForbidden("invalid message signature")
    try:
        key = dedupe_key(body)
    except Exception:  # noqa: BLE001 - malformed XML from a signed request: nothing to do, do not make WeChat retry
        logger.warning("unreadable WeChat callback body")
        return HttpResponse("success", content_type="text/plain")
    if cache.add(f"wechat:callback:{key}", 1, DEDUPE_SECONDS):
        try:
            logger.info("wechat callback: %s", callback_event_handle(xml=body))
        except Exception:
            cache.delete(f"wechat:callback:{key}")  # let WeChat's retry try again
            raise
    return HttpResponse("success", content_type="text/plain")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wecom_callback(request: HttpRequest) -> HttpResponse:
    """WeCom's callback: encrypted and signed (``msg_signature``); a bad signature or stale request is refused."""
    q = request.GET
    token, aes_key = settings.WECOM_CALLBACK_TOKEN, settings.WECOM_CALLBACK_AES_KEY
    crypto = EnterpriseCrypto(token, aes_key, settings.WECOM_CORP_ID)
    signed = {"signature": q.get("msg_signature", ""), "timestamp": q.get("timestamp", ""), "nonce": q.get("nonce", "")}
    if request.method == "GET":
        if not wecom_signature_is_valid(token=token, encrypted=q.get("echostr", ""), **signed):
            return HttpResponseForbidden("invalid signature")
        echo = crypto.check_signature(signed["signature"], signed["timestamp"], signed["nonce"], q.get("echostr", ""))
        return HttpResponse(echo, content_type="text/plain")
    body = request.body.decode("utf-8", errors="replace")
    try:
        encrypted = xmltodict.parse(body)["xml"]["Encrypt"]
    except Exception:  # noqa: BLE001 - not WeCom's envelope
        return HttpResponseForbidden("invalid message")
    if not wecom_signature_is_valid(token=token, encrypted=encrypted, **signed):
        return HttpResponseForbidden("invalid signature")
    try:
        xml = crypto.decrypt_message(body, signed["signature"], signed["timestamp"], signed["nonce"])
    except (InvalidSignatureException, ValueError, KeyError):
        return HttpResponseForbidden("invalid message signature")
    logger.info("wecom callback: %s", wecom_event_handle(xml=xml))
    return HttpResponse("success", content_type="text/plain")
