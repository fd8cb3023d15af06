from celery import shared_task

from .clv.services import clv_fit
from .errors import ClvCannotFit
from .kpis import kpi_aggregates_refresh
from .profiles import member_profiles_refresh


@shared_task(name="insights.profiles_refresh", acks_late=True)
def profiles_refresh_task() -> dict[str, int]:
    """Nightly: every member's computed measures and rule tags, in one set-based pass."""
    return member_profiles_refresh()


@shared_task(name="insights.kpi_aggregates_refresh", acks_late=True)
def kpi_aggregates_refresh_task() -> dict[str, int]:
    """Hourly: fold new and refunded orders into the daily and monthly KPI aggregates."""
    return kpi_aggregates_refresh()


@shared_task(name="insights.clv_fit", acks_late=True)
def clv_fit_task() -> dict[str, object]:
    """Weekly: refit the lifetime value models as of today and score every member (a refusal is recorded)."""
    try:
        model = clv_fit()
    except ClvCannotFit as exc:
        return {"fitted": False, "code": exc.code, "message": exc.message}
    return {"fitted": True, "model": model.pk, "members": model.members}
