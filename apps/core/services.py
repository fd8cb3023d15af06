from django.db.models import F
from django.utils import timezone

from .models import Heartbeat

BEAT_HEARTBEAT = "beat"


def heartbeat_record(*, name: str = BEAT_HEARTBEAT) -> Heartbeat:
    """Record that the named periodic job ran now (one row per name, counted)."""
    now = timezone.now()
    updated = Heartbeat.objects.filter(name=name).update(last_beat_at=now, beats=F("beats") + 1)
    if not updated:
        Heartbeat.objects.get_or_create(name=name, defaults={"last_beat_at": now, "beats": 1})
    return Heartbeat.objects.get(name=name)
