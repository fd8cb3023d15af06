from celery import shared_task

from .services import heartbeat_record


@shared_task(name="core.heartbeat")
def heartbeat_task() -> str:
    """Scheduled by beat every minute; /healthz and the admin show its last run."""
    return heartbeat_record().last_beat_at.isoformat()
