"""WeChat binding QR codes: a member's one-time binding code and the permanent store/guide codes.

The scene is issued and stored by the members app (``binding_scene_issue``) before WeChat is asked for
the QR, so the code can only ever bind the member it was made for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from apps.core.errors import DomainError
from apps.members.binding import SCENE_PREFIX, binding_scene_issue, binding_scene_set_ticket
from apps.members.models import Member
from apps.stores.models import Staff, Store

from .accounts import QrCode, qrcode_create
from .client import WeChatApiError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BindingQr:
    scene: str
    ticket: str
    qr_url: str
    expires_at: datetime


def wechat_binding_create(*, member: Member, store: Store | None = None, guide: Staff | None = None) -> BindingQr:
    """A temporary WeChat QR that binds the WeChat account scanning it to ``member`` (``WeChatApiError`` when
    WeChat cannot make one now; ``MemberNotActive`` for a merged or erased member)."""
    ttl = settings.WECHAT_BINDING_QR_SECONDS
    scene = binding_scene_issue(member=member, store=store, guide=guide, ttl_seconds=ttl)
    qr = qrcode_create(scene=f"{SCENE_PREFIX}{scene.token}", expire_seconds=ttl)
    expires_at = min(qr.expires_at or scene.expires_at, scene.expires_at)
    binding_scene_set_ticket(scene=scene, ticket=qr.ticket, expires_at=expires_at)
    return BindingQr(scene=f"{SCENE_PREFIX}{scene.token}", ticket=qr.ticket, qr_url=qr.image_url, expires_at=expires_at)


def store_qr_scene(*, store: Store, guide: Staff | None = None) -> str:
    return f"store:{store.code}" + (f":guide:{guide.code}" if guide else "")


def wechat_store_qr_create(*, store: Store, guide: Staff | None = None) -> QrCode:
    """The permanent QR for walk-in followers of a store (and guide): followers are attributed to them."""
    return qrcode_create(scene=store_qr_scene(store=store, guide=guide), expire_seconds=None)


def wechat_binding_for_page(*, member: Member, store: Store | None, guide: Staff | None) -> BindingQr | None:
    """The binding QR for a clerk page, or None (the page says so) when the member already has WeChat or
    WeChat cannot make one right now."""
    if member.identities.filter(kind="wechat_openid").exists():
        return None
    try:
        return wechat_binding_create(member=member, store=store, guide=guide)
    except (WeChatApiError, DomainError) as exc:
        logger.warning("no WeChat binding QR for %s: %s", member.code, exc)
        return None
