"""Error pages: problem details under /api/, the project's own translated pages (with a way back) elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

from apps.core.api import problem_json_response
from apps.core.views import api_not_found, api_server_error


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _way_back(request: HttpRequest) -> dict[str, str]:
    if request.path.startswith("/store/"):
        return {"back_url": "/store/", "back_label": _("Back to the store pages")}
    if request.path.startswith("/admin/"):
        return {"back_url": "/admin/", "back_label": _("Back to the console")}
    return {"back_url": "/", "back_label": _("Back to the start page")}


def _page(request: HttpRequest, template: str, status: int, *, with_request: bool = True) -> HttpResponse:
    # The 500 page renders without the request's context processors: they may be what failed.
    body = loader.get_template(template).render(_way_back(request), request if with_request else None)
    return HttpResponse(body, status=status)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        detail = "The request could not be read (too large a body, or a malformed one)."
        return problem_json_response(
            request, status_code=400, code="malformed_request", title="Malformed request", detail=detail
        )
    return _page(request, "400.html", 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(request, status_code=403, code="permission_denied", title="Not allowed")
    return _page(request, "403.html", 403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            request, status_code=403, code="csrf_failed", title="Not allowed", detail="CSRF check failed."
        )
    return _page(request, "403_csrf.html", 403)


@requires_csrf_token
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request, exception)
    return _page(request, "404.html", 404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_server_error(request)
    return _page(request, "500.html", 500, with_request=False)
