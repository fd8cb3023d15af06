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

from .selectors import api_key_authenticate


@dataclass(frozen=True)
class ChannelPrincipal:
    """The caller of the channel API: one channel, identified by one of its keys."""

    channel_id: int
    channel_code: str
    api_key_id: int

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
        principal = ChannelPrincipal(channel_id=key.channel_id, channel_code=key.channel_code, api_key_id=key.id)
        return principal, key

    def authenticate_header(self, request) -> str:
        return API_KEY_KEYWORD


class IsChannel(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ChannelPrincipal)


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
