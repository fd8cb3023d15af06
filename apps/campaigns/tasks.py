from celery import shared_task

from .services import outbox_dispatch_due, outbox_sweep_stale, touches_materialise


@shared_task(name="campaigns.outbox_dispatch", acks_late=True)
def outbox_dispatch_task() -> str:
    """Send what is due; safe to run on several workers at once (rows are claimed with SKIP LOCKED)."""
    return str(outbox_dispatch_due())


@shared_task(name="campaigns.outbox_sweep")
def outbox_sweep_task() -> str:
    released, in_doubt = outbox_sweep_stale()
    return f"released {released}, in doubt {in_doubt}"


@shared_task(name="campaigns.touches_materialise", acks_late=True)
def touches_materialise_task() -> str:
    """Put due journey touches and broadcasts into the outbox; running it twice at once makes nothing twice."""
    return str(touches_materialise())
