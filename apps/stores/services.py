from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .errors import UnknownChannel
from .models import ApiKey, Channel, Staff, Store
from .roles import ROLE_GROUPS
from .selectors import _hash_secret


@transaction.atomic
def api_key_create(*, channel_code: str, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for the channel; return it with the raw key, which is never stored or shown again."""
    try:
        channel = Channel.objects.get(code=channel_code)
    except Channel.DoesNotExist:
        raise UnknownChannel(f"There is no channel {channel_code!r}.") from None
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(channel=channel, prefix=prefix, hashed_secret=_hash_secret(secret), name=name)
    return key, f"{prefix}.{secret}"


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key at once; requests with it get 401 from then on."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def staff_create(
    *,
    code: str,
    name: str,
    role: str,
    username: str,
    password: str | None,
    stores: Iterable[Store] = (),
    email: str = "",
) -> Staff:
    """Create a login and its staff record; only HQ operators get console (admin) access."""
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email, is_staff=role == Staff.Role.HQ_OPERATOR
    )
    staff = Staff.objects.create(user=user, code=code, name=name, role=role)
    staff.stores.set(stores)
    user.groups.set([Group.objects.get_or_create(name=ROLE_GROUPS[role])[0]])
    return staff


@transaction.atomic
def staff_set_role(*, staff: Staff, role: str) -> Staff:
    """Change a role: the group follows, and console access with it."""
    staff.role = role
    staff.save(update_fields=["role"])
    user = staff.user
    user.is_staff = role == Staff.Role.HQ_OPERATOR
    user.save(update_fields=["is_staff"])
    user.groups.set([Group.objects.get_or_create(name=ROLE_GROUPS[role])[0]])
    return staff
