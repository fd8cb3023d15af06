"""Writes that tie a member to their WeChat and WeCom ids: binding QR scenes, the bind itself, binding
conflicts and WeCom contacts. No WeChat calls here (members sits below campaigns): the callers fetch what
WeChat knows (unionid, external_userid) first and pass it in.

A binding scene is a random token stored here, so a QR cannot be forged for another member; it binds
exactly one WeChat account, once, before it expires. Binding never creates a member and never moves an
identity: an openid or unionid already bound to someone else is recorded as a conflict, nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.db import transaction
from django.utils import timezone

from apps.stores.models import Staff, Store

from .errors import BindingSceneInvalid, MemberNotActive
from .models import BindingConflict, BindingScene, Consent, Identity, Member, WeComContact
from .services import consent_set, identity_add, member_merge

SCENE_PREFIX = "bind:"
SCENE_TTL_SECONDS = 30 * 60

Outcome = Literal["bound", "already_bound", "conflict", "expired", "replayed", "unknown", "member_inactive"]


@dataclass(frozen=True)
class BindResult:
    outcome: Outcome
    member: Member | None = None

    @property
    def is_bound(self) -> bool:
        return self.outcome in {"bound", "already_bound"}


def scene_token(scene: str) -> str | None:
    """The token of a binding scene (``bind:<token>``, ``qrscene_`` prefix allowed), else None."""
    scene = (scene or "").removeprefix("qrscene_")
    return scene.removeprefix(SCENE_PREFIX) if scene.startswith(SCENE_PREFIX) else None


@transaction.atomic
def binding_scene_issue(
    *,
    member: Member,
    store: Store | None = None,
    guide: Staff | None = None,
    ttl_seconds: int = SCENE_TTL_SECONDS,
    at: datetime | None = None,
) -> BindingScene:
    """A new binding scene for an active member (the QR's ticket is attached once WeChat made it)."""
    if member.status != Member.Status.ACTIVE:
        raise MemberNotActive("This member was merged or erased.")
    at = at or timezone.now()
    return BindingScene.objects.create(
        token=secrets.token_urlsafe(16),
        member=member,
        store=store,
        guide=guide,
        created_at=at,
        expires_at=at + timedelta(seconds=ttl_seconds),
    )


def binding_scene_set_ticket(*, scene: BindingScene, ticket: str, expires_at: datetime) -> None:
    """Record WeChat's ticket; the scene never outlives the QR WeChat made for it."""
    BindingScene.objects.filter(pk=scene.pk).update(ticket=ticket[:255], expires_at=min(expires_at, scene.expires_at))


def _bound_elsewhere(*, member: Member, kind: str, value: str | None) -> Member | None:
    if not value:
        return None
    other = Identity.objects.filter(kind=kind, channel=None, value=value).exclude(member=member).first()
    return other.member if other else None


@transaction.atomic(durable=True)
def member_bind_wechat(
    *, token: str, openid: str, unionid: str | None = None, at: datetime | None = None
) -> BindResult:
    """Bind ``openid`` (and ``unionid``) to the member the scene names; never creates a member.

    Expired, unknown or replayed (already used by another account) scenes and merged or erased members
    change nothing. An id already bound to another member changes nothing and is recorded as a conflict.
    """
    at = at or timezone.now()
    scene = BindingScene.objects.select_for_update().filter(token=token).first()
    if scene is None:
        return BindResult("unknown")
    member = Member.objects.select_for_update().get(pk=scene.member_id)
    if scene.used_at is not None:
        if scene.used_by_openid == openid:
            return BindResult("already_bound", member)
        return BindResult("replayed", member)
    if scene.expires_at <= at:
        return BindResult("expired", member)
    if member.status != Member.Status.ACTIVE:
        return BindResult("member_inactive", member)
    other = _bound_elsewhere(member=member, kind=Identity.Kind.WECHAT_OPENID, value=openid) or _bound_elsewhere(
        member=member, kind=Identity.Kind.WECHAT_UNIONID, value=unionid
    )
    if other is not None:
        BindingConflict.objects.get_or_create(
            scene=scene, openid=openid, defaults={"member": member, "bound_member": other, "at": at}
        )
        return BindResult("conflict", member)
    identity_add(member=member, kind=Identity.Kind.WECHAT_OPENID, value=openid)
    if unionid:
        identity_add(member=member, kind=Identity.Kind.WECHAT_UNIONID, value=unionid)
        # Guides who added this customer in WeCom before the binding can now reach the member.
        WeComContact.objects.filter(unionid=unionid, member=None).update(member=member)
    updates = {}
    if scene.store_id and member.join_store_id is None:
        updates["join_store_id"] = scene.store_id
    if scene.guide_id and member.recruited_by_id is None:
        updates["recruited_by_id"] = scene.guide_id
    if updates:
        Member.objects.filter(pk=member.pk).update(**updates)
    BindingScene.objects.filter(pk=scene.pk).update(used_at=at, used_by_openid=openid)
    store = scene.store.code if scene.store_id else ""
    consent_set(
        member=member, channel=Consent.Channel.WECHAT, granted=True, source=f"wechat:bind:{store}".rstrip(":"), at=at
    )
    return BindResult("bound", member)


@transaction.atomic(durable=True)
def binding_conflict_merge(*, conflict: BindingConflict, operator=None) -> Member:
    """Resolve a conflict by merging the member of the QR code into the member already bound to the WeChat
    account (whose identities stay), through the one merge service."""
    if conflict.resolved_at is not None:
        raise BindingSceneInvalid("This conflict was already resolved.")
    survivor = member_merge(survivor=conflict.bound_member, merged=conflict.member, operator=operator)
    BindingConflict.objects.filter(pk=conflict.pk).update(resolved_at=timezone.now())
    return survivor


@transaction.atomic
def wecom_contact_add(
    *, staff: Staff, external_userid: str, unionid: str = "", at: datetime | None = None
) -> WeComContact:
    """A guide added a customer in WeCom: record it, tied to the member with that unionid when there is one."""
    at = at or timezone.now()
    member = None
    if unionid:
        identity = Identity.objects.filter(kind=Identity.Kind.WECHAT_UNIONID, channel=None, value=unionid).first()
        member = identity.member if identity else None
    contact, _created = WeComContact.objects.update_or_create(
        staff=staff,
        external_userid=external_userid,
        defaults={"unionid": unionid, "member": member, "added_at": at},
    )
    if member is not None:
        wecom_external_id_set(member=member, external_userid=external_userid)
    return contact


def wecom_external_id_set(*, member: Member, external_userid: str) -> None:
    """Remember the member's WeCom external user id (from the unionid conversion or a contact callback)."""
    identity_add(member=member, kind=Identity.Kind.WECOM_EXTERNAL, value=external_userid)
    WeComContact.objects.filter(external_userid=external_userid, member=None).update(member=member)
