"""Refuse at the edge what no view can store: NUL bytes in the path or the query string."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from .api import has_nul, problem_json_response


class RejectNulMiddleware:
    """PostgreSQL refuses NUL in text, so a path or query value carrying one would end in a 500: answer 400
    (problem details under /api/) before any view or query sees it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_nul(request.path) or any(has_nul(k) or has_nul(v) for k, vs in request.GET.lists() for v in vs):
            if request.path.startswith("/api/"):
                return problem_json_response(
                    request,
                    status_code=400,
                    code="malformed_request",
                    title="Malformed request",
                    detail="The path or a query parameter contains a NUL character.",
                )
            return HttpResponseBadRequest("The address contains a NUL character.", content_type="text/plain")
        return self.get_response(request)
