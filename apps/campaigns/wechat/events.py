"""What WeChat's server callbacks mean for us: follows and unfollows (consent), QR scenes (store and
guide attribution, or a new member), and template delivery reports (onto the outbox row)."""

from __future__ import annotations

import logging

from django.utils import timezone
from wechatpy import parse_message

from apps.members.errors import MemberNotFound
from apps.members.selectors import member_get
from apps.members.services import consent_set, member_follow_wechat
from apps.stores.models import Staff, Store

from ..services import outbox_record_delivery

logger = logging.getLogger(__name__)


def scene_parse(scene: str) -> tuple[Store | None, Staff | None]:
    """``store:S001`` or ``store:S001:guide:G01`` (``qrscene_`` prefix allowed) -> (store, guide); unknown: None."""
    scene = (scene or "").removeprefix("qrscene_")
    parts = scene.split(":")
    fields = dict(zip(parts[::2], parts[1::2], strict=False))
    store = Store.objects.filter(code=fields["store"]).first() if fields.get("store") else None
    guide = Staff.objects.filter(code=fields["guide"], is_active=True).first() if fields.get("guide") else None
    return store, guide


def callback_event_handle(*, xml: str) -> str:
    """Apply one callback message; returns what happened (for logs and tests)."""
    message = parse_message(xml)
    event = getattr(message, "event", "")
    openid = message.source
    if event in {"subscribe", "subscribe_scan", "scan"}:
        store, guide = scene_parse(getattr(message, "scene_id", "") or "")
        member, created = member_follow_wechat(openid=openid, store=store, guide=guide, at=timezone.now())
        return f"{'registered' if created else 'followed'} {member.code}"
    if event == "unsubscribe":
        try:
            member = member_get(openid=openid)
        except MemberNotFound:
            return "unknown follower left"
        consent_set(member=member, channel="wechat", granted=False, source="wechat:unsubscribe")
        return f"consent withdrawn {member.code}"
    if event == "templatesendjobfinish":
        status = str(getattr(message, "status", "") or "")
        updated = outbox_record_delivery(msgid=str(message.id), delivered=status == "success", detail=status)
        return f"delivery {status} ({updated})"
    return f"ignored {message.type}:{event}"
