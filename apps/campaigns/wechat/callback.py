"""Checks for WeChat's server callbacks (``/wechat/callback``).

wechatpy's ``check_signature`` compares with ``!=`` and accepts any timestamp; here the comparison is
constant-time and a request older (or newer) than the freshness window is refused, so a captured
request cannot be replayed later. WeChat retries a callback three times: ``dedupe_key`` identifies it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from wechatpy import parse_message

FRESHNESS_SECONDS = 300


def signature_for(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def signature_is_valid(
    *, token: str, signature: str, timestamp: str, nonce: str, now: float | None = None, window: int = FRESHNESS_SECONDS
) -> bool:
    """True when the signature matches and the timestamp is within ``window`` seconds of now."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > window:
        return False
    return hmac.compare_digest(signature_for(token, timestamp, nonce), signature or "")


def wecom_signature_is_valid(
    *, token: str, signature: str, timestamp: str, nonce: str, encrypted: str, now: float | None = None
) -> bool:
    """WeCom's ``msg_signature`` (SHA1 over token, timestamp, nonce and the encrypted text), fresh and
    compared in constant time."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > FRESHNESS_SECONDS:
        return False
    expected = hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()
    return hmac.compare_digest(expected, signature or "")


def dedupe_key(xml: str) -> str:
    """The identity of a callback across WeChat's retries: MsgId, else FromUserName + CreateTime + event."""
    message = parse_message(xml)
    msg_id = getattr(message, "id", None)
    if msg_id:
        return f"msg:{msg_id}"
    event = getattr(message, "event", "") or getattr(message, "type", "")
    return f"event:{message.source}:{int(message.create_time.timestamp())}:{event}"
