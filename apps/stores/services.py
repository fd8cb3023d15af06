from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from .errors import InvalidApiKeyScopes, InvalidStaff, UnknownChannel
from .models import ApiKey, Channel, Staff, Store
from .roles import ROLE_GROUPS
from .scopes import scopes_default_for, scopes_to_text
from .selectors import _hash_secret


def _scopes_text(scopes: Iterable[str]) -> str:
    try:
        return scopes_to_text(scopes)
    except ValueError as exc:
        raise InvalidApiKeyScopes(str(exc), errors={"scopes": [str(exc)]}) from None


@transaction.atomic
def api_key_create(*, channel_code: str, name: str = "", scopes: Iterable[str] | None = None) -> tuple[ApiKey, str]:
    """Create a key for the channel (scopes: the channel kind's default unless given); return it with the
    raw key, which is never stored or shown again."""
    try:
        channel = Channel.objects.get(code=channel_code)
    except Channel.DoesNotExist:
        raise UnknownChannel(f"There is no channel {channel_code!r}.") from None
    scopes_text = _scopes_text(scopes_default_for(channel.kind) if scopes is None else scopes)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        channel=channel, prefix=prefix, hashed_secret=_hash_secret(secret), name=name, scopes=scopes_text
    )
    return key, f"{prefix}.{secret}"


@transaction.atomic
def api_key_update(*, key: ApiKey, name: str, scopes: Iterable[str]) -> ApiKey:
    """Rename a key and set its scopes; the next request with it is held to the new scopes."""
    key.name, key.scopes = name, _scopes_text(scopes)
    key.save(update_fields=["name", "scopes"])
    return key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key at once; requests with it get 401 from then on."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def _role_apply(*, user: User, role: str) -> None:
    """The login follows the role: its role group only (other role groups removed), console for HQ only."""
    if role not in ROLE_GROUPS:
        raise InvalidStaff(f"{role!r} is not a staff role.", errors={"role": ["unknown role"]})
    if user.is_staff != (role == Staff.Role.HQ_OPERATOR):
        user.is_staff = role == Staff.Role.HQ_OPERATOR
        user.save(update_fields=["is_staff"])
    wanted = Group.objects.get_or_create(name=ROLE_GROUPS[role])[0]
    user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS.values()).exclude(pk=wanted.pk))
    user.groups.add(wanted)


def staff_create_check(*, code: str, role: str, username: str = "", user: User | None = None) -> None:
    """Refuse a new staff record the database would refuse, field by field (forms show it on the field)."""
    errors: dict[str, list[str]] = {}
    if role not in ROLE_GROUPS:
        errors["role"] = [f"{role!r} is not a staff role"]
    if Staff.objects.filter(code=code).exists():
        errors["code"] = [f"staff code {code!r} is taken"]
    if user is not None:
        if Staff.objects.filter(user=user).exists():
            errors["user"] = ["this login already belongs to a staff member"]
    elif not username:
        errors["username"] = ["choose an existing login or a username for a new one"]
    elif get_user_model().objects.filter(username=username).exists():
        errors["username"] = [f"the username {username!r} is taken"]
    if errors:
        field, problems = next(iter(errors.items()))
        raise InvalidStaff(f"{field}: {problems[0]}", errors=errors)


@transaction.atomic
def staff_create(
    *,
    code: str,
    name: str,
    role: str,
    username: str = "",
    password: str | None = None,
    stores: Iterable[Store] = (),
    email: str = "",
    user: User | None = None,
) -> Staff:
    """Create a staff record for an existing login (``user``) or a new one; the role sets groups and console access."""
    staff_create_check(code=code, role=role, username=username, user=user)
    if user is None:
        user = get_user_model().objects.create_user(username=username, password=password, email=email)
    staff = Staff.objects.create(user=user, code=code, name=name, role=role)
    staff.stores.set(stores)
    _role_apply(user=user, role=role)
    return staff


@transaction.atomic
def staff_set_role(*, staff: Staff, role: str) -> Staff:
    """Change a role: the group follows, and console access with it."""
    _role_apply(user=staff.user, role=role)
    staff.role = role
    staff.save(update_fields=["role"])
    return staff


def staff_wecom_userid_check(*, staff: Staff, wecom_userid: str | None) -> str | None:
    """The WeCom user id to store ('' means none); one WeCom account belongs to one staff member."""
    wecom_userid = (wecom_userid or "").strip() or None
    if wecom_userid and Staff.objects.filter(wecom_userid=wecom_userid).exclude(pk=staff.pk).exists():
        raise InvalidStaff(
            "This WeCom user id belongs to another staff member.",
            errors={"wecom_userid": ["already used by another staff member"]},
        )
    return wecom_userid


@transaction.atomic
def staff_update(
    *,
    staff: Staff,
    name: str,
    role: str,
    stores: Iterable[Store],
    is_active: bool,
    wecom_userid: str | None = None,
) -> Staff:
    """Edit a staff record; a role change goes through ``staff_set_role`` (groups and console follow).
    ``wecom_userid``: the guide's WeCom account ('' or None: none)."""
    wecom_userid = staff_wecom_userid_check(staff=staff, wecom_userid=wecom_userid)
    staff.name, staff.is_active, staff.wecom_userid = name, is_active, wecom_userid
    staff.save(update_fields=["name", "is_active", "wecom_userid"])
    staff.stores.set(stores)
    return staff_set_role(staff=staff, role=role)
