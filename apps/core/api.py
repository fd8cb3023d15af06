"""API conventions shared by every app: channel API keys, throttling, RFC 9457 problem details."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_KEY_KEYWORD = "Api-Key"


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
        from apps.stores.selectors import api_key_authenticate

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


def problem(
    *, status_code: int, code: str, title: str, detail: str, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/api/v1/problems/{code}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body


def _flatten_errors(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(k): v for k, v in detail.items()}
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


_DRF_CODES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    exceptions.AuthenticationFailed: ("invalid_api_key", "Authentication failed"),
    exceptions.PermissionDenied: ("permission_denied", "Not allowed"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.ParseError: ("malformed_request", "Malformed request body"),
    exceptions.Throttled: ("throttled", "Too many requests"),
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every API error as problem details with a stable ``code``."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        body = problem(status_code=exc.status, code=exc.code, title=exc.title, detail=exc.detail, errors=exc.errors)
        return Response(body, status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.ValidationError):
        body = problem(
            status_code=400,
            code="validation_error",
            title="The request is not valid",
            detail="One or more fields are invalid.",
            errors=_flatten_errors(exc.detail),
        )
        return Response(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, exceptions.APIException):
        code, title = next(
            (v for cls, v in _DRF_CODES.items() if isinstance(exc, cls)), ("error", "The request failed")
        )
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = API_KEY_KEYWORD
            exc.status_code = status.HTTP_401_UNAUTHORIZED
        body = problem(status_code=exc.status_code, code=code, title=title, detail=str(exc.detail))
        return Response(body, status=exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return None


def problem_json_response(request: HttpRequest, *, status_code: int, code: str, title: str) -> JsonResponse:
    """Plain-Django problem response (404/500 under /api/, health checks)."""
    body = problem(status_code=status_code, code=code, title=title, detail=title)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


ProblemSerializer = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(required=False),
    },
)


def problem_responses(*pairs: tuple[int, str]) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the errors an endpoint can return: ``problem_responses((404, "unknown_sku"))``."""
    by_status: dict[int, list[str]] = {401: ["not_authenticated", "invalid_api_key"], 429: ["throttled"]}
    for status_code, code in pairs:
        by_status.setdefault(status_code, []).append(code)
    return {
        s: OpenApiResponse(response=ProblemSerializer, description="Problem details; code: " + ", ".join(codes))
        for s, codes in sorted(by_status.items())
    }
