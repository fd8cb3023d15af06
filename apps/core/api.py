"""API conventions shared by every app: RFC 9457 problem details and their OpenAPI description.

Channel API keys (authentication, permission, throttling) live in ``apps.stores.auth``: a key belongs to a
channel, and core imports no app.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.utils.functional import Promise
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from .errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_KEY_KEYWORD = "Api-Key"


def problem(
    *, status_code: int, code: str, title: str | Promise, detail: str | Promise, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/api/v1/problems/{code}",
        "title": str(title),  # translated lazily where the error was raised
        "status": status_code,
        "detail": str(detail),
        "code": str(code),
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


def problem_json_response(
    request: HttpRequest, *, status_code: int, code: str, title: str, detail: str | None = None
) -> JsonResponse:
    """Plain-Django problem response (400/403/404/500 under /api/, health checks)."""
    body = problem(status_code=status_code, code=code, title=title, detail=detail or title)
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


# What every channel API operation can answer besides its own errors: a bad or missing key, a key without
# the operation's scope, a malformed request (bad JSON, NUL bytes, too large a body), throttling.
COMMON_PROBLEMS: dict[int, list[str]] = {
    400: ["malformed_request"],
    401: ["not_authenticated", "invalid_api_key"],
    403: ["insufficient_scope"],
    429: ["throttled"],
}


def problem_responses(*pairs: tuple[int, str]) -> dict[tuple[int, str], OpenApiResponse]:
    """OpenAPI responses for the errors an endpoint can return: ``problem_responses((404, "unknown_sku"))``,
    documented as ``application/problem+json``, which is what they are served as."""
    by_status: dict[int, list[str]] = {s: list(codes) for s, codes in COMMON_PROBLEMS.items()}
    for status_code, code in pairs:
        by_status.setdefault(status_code, []).append(code)
    return {
        (s, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer, description="Problem details; code: " + ", ".join(dict.fromkeys(codes))
        )
        for s, codes in sorted(by_status.items())
    }


class SafeJSONParser(JSONParser):
    """JSON bodies; a body nested too deeply for the parser is a malformed request (400), not a crash."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the body is nested too deeply.") from None


def has_nul(text: str) -> bool:
    """PostgreSQL refuses NUL in text: a value carrying one is refused at the edge."""
    return "\x00" in text
