"""Channel API authentication: ``Authorization: Api-Key <key>``, one key per channel, throttled per key.

The REST framework's defaults (config/settings.py) name these classes; every API view uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from apps.core.api import API_KEY_KEYWORD

from .errors import InsufficientScope
from .scopes import Scope
from .selectors import api_key_authenticate


@dataclass(frozen=True)
class ChannelPrincipal:
    """The caller of the channel API: one channel, identified by one of its keys."""

    channel_id: int
    channel_code: str
    api_key_id: int
    scopes: frozenset[str] = frozenset()

    is_authenticated = True
    is_anonymous = False


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``; the key is looked up by its hash."""

    def authenticate(self, request) -> tuple[ChannelPrincipal, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != API_KEY_KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Api-Key <key>'.")
        key = api_key_authenticate(raw_key=header[1].decode("ascii", errors="replace"))
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        principal = ChannelPrincipal(
            channel_id=key.channel_id, channel_code=key.channel_code, api_key_id=key.id, scopes=key.scopes
        )
        return principal, key

    def authenticate_header(self, request) -> str:
        return API_KEY_KEYWORD


class IsChannel(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ChannelPrincipal)


class HasScopes(IsChannel):
    """A channel key holding every scope in ``required_scopes``; otherwise 403 ``insufficient_scope``.

    Every API view declares one with ``permission_classes = [requires(Scope.…)]`` (a test walks the URLs).
    """

    required_scopes: tuple[Scope, ...] = ()

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False  # DRF answers 401 (no or a bad key)
        if not self.required_scopes:
            raise InsufficientScope("This endpoint declares no scope, so no key may call it.")
        missing = [s for s in self.required_scopes if s not in request.user.scopes]
        if missing:
            raise InsufficientScope(
                f"This API key lacks the scope {', '.join(missing)}; ask the operator to grant it in the console."
            )
        return True


def requires(*scopes: Scope) -> type[HasScopes]:
    """The permission class for a view that needs these scopes: ``permission_classes = [requires(Scope.KPIS_READ)]``."""
    return type(f"Requires_{'_'.join(s.replace(':', '_') for s in scopes)}", (HasScopes,), {"required_scopes": scopes})


def has_scope(request, scope: Scope) -> bool:
    """Whether the caller's key holds ``scope`` (for answers that depend on it, such as member registration)."""
    return isinstance(request.user, ChannelPrincipal) and scope in request.user.scopes


class ChannelKeyThrottle(SimpleRateThrottle):
    """Requests per API key (setting API_THROTTLE_RATE)."""

    scope = "channel_key"

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.user, ChannelPrincipal):
            return f"throttle:key:{request.user.api_key_id}"
        return None


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; one key belongs to one channel.",
        }
