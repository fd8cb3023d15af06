from celery import shared_task

from .services import tiers_evaluate


@shared_task(name="members.tiers_evaluate")
def tiers_evaluate_task() -> dict[str, int]:
    """Nightly: upgrades anyone who qualifies, downgrades after the 12-month grace period (set-based)."""
    return tiers_evaluate()
