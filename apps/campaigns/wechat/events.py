"""What WeChat's server callbacks mean for us: follows and unfollows (consent), QR scenes (store and
guide attribution, or a new member), and template delivery reports (onto the outbox row)."""

from __future__ import annotations

import logging

import xmltodict
from django.utils import timezone
from wechatpy import parse_message

from apps.members.binding import member_bind_wechat, scene_token, wecom_contact_add, wecom_external_id_set
from apps.members.errors import IdentityConflict, MemberNotFound
from apps.members.selectors import member_get
from apps.members.services import consent_set, member_follow_wechat
from apps.stores.models import Staff, Store

from ..services import outbox_record_delivery
from .accounts import follower_unionid, wecom_contact_unionid, wecom_external_userid
from .client import WeChatApiError

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
    if event in {"subscribe_scan", "scan"} and scene_token(getattr(message, "scene_id", "") or ""):
        return wechat_bind_from_scan(openid=openid, token=scene_token(message.scene_id) or "")
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


def wechat_bind_from_scan(*, openid: str, token: str) -> str:
    """A member's binding QR was scanned: bind this WeChat account to that member (never a new member).

    WeChat is asked first (outside the binding's transaction) for the unionid and, once bound, for the
    customer's WeCom external user id, so guides who already added them can reach them."""
    unionid = follower_unionid(openid=openid)
    result = member_bind_wechat(token=token, openid=openid, unionid=unionid)
    if result.outcome == "bound" and unionid:
        try:
            external_userid = wecom_external_userid(unionid=unionid, openid=openid)
            if external_userid:
                wecom_external_id_set(member=result.member, external_userid=external_userid)
        except (WeChatApiError, IdentityConflict) as exc:
            logger.warning("no WeCom external user id for %s: %s", result.member.code, exc)
    return f"bind {result.outcome} {result.member.code if result.member else '-'}"


def wecom_event_handle(*, xml: str) -> str:
    """Apply one WeCom callback: a guide adding a customer binds that customer to the guide (and to the member
    with the customer's unionid). Other events are ignored."""
    fields = xmltodict.parse(xml).get("xml") or {}
    if fields.get("Event") != "change_external_contact" or fields.get("ChangeType") != "add_external_contact":
        return f"ignored {fields.get('Event')}:{fields.get('ChangeType')}"
    staff = Staff.objects.filter(wecom_userid=fields.get("UserID") or None, is_active=True).first()
    external_userid = str(fields.get("ExternalUserID") or "")
    if staff is None or not external_userid:
        return f"unknown guide {fields.get('UserID')!r}: nothing recorded"
    try:
        unionid = wecom_contact_unionid(external_userid=external_userid)
    except WeChatApiError as exc:
        logger.warning("no unionid for WeCom contact %s: %s", external_userid, exc)
        unionid = ""
    try:
        contact = wecom_contact_add(staff=staff, external_userid=external_userid, unionid=unionid)
    except IdentityConflict:
        return f"contact {external_userid} conflicts with another member: nothing recorded"
    return f"contact added {staff.code} -> {contact.member.code if contact.member else 'unknown member'}"
