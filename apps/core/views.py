from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .api import problem_json_response
from .models import Heartbeat
from .services import BEAT_HEARTBEAT


def _check_db() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"down: {exc.__class__.__name__}"


def _check_broker() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"down: {exc.__class__.__name__}"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, 503 naming what is down; reports beat's heartbeat."""
    body: dict = {"db": _check_db(), "broker": _check_broker()}
    beat = None
    if body["db"] == "ok":
        beat = Heartbeat.objects.filter(name=BEAT_HEARTBEAT).first()
    if beat is None:
        body["beat"] = {"last_beat_at": None, "status": "never"}
    else:
        age = (timezone.now() - beat.last_beat_at).total_seconds()
        stale = age > settings.HEARTBEAT_STALE_SECONDS
        body["beat"] = {
            "last_beat_at": beat.last_beat_at.isoformat(),
            "age_seconds": int(age),
            "status": "stale" if stale else "ok",
        }
    healthy = body["db"] == "ok" and body["broker"] == "ok"
    return JsonResponse(body, status=200 if healthy else 503)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_json_response(request, status_code=404, code="not_found", title="Not found")


def api_server_error(request: HttpRequest) -> JsonResponse:
    return problem_json_response(request, status_code=500, code="server_error", title="Server error")
