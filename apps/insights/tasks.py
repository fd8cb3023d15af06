from celery import shared_task

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
