"""What other apps hear about an order's effects, once the transaction that made them has committed.

``orders`` sits below ``insights`` and ``campaigns`` in the layers, so it cannot call them; instead they
subscribe here (in their ``AppConfig.ready``) and every service that changes what a member bought (an order
created, paid, refunded, members merged) calls :func:`member_orders_changed` inside its transaction. The
subscribers run after commit, never for a rolled-back change, and an error in one is logged, not raised to
the caller whose order is already booked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

Subscriber = Callable[[int], None]
_subscribers: list[Subscriber] = []


def member_orders_subscribe(subscriber: Subscriber) -> None:
    """Call ``subscriber(member_id)`` after each commit that changed a member's orders (idempotent)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def member_orders_changed(member_id: int | None) -> None:
    """Tell the subscribers, on commit, that ``member_id``'s orders changed (no-op for no member)."""
    if member_id is None:
        return

    def _notify() -> None:
        for subscriber in list(_subscribers):
            try:
                subscriber(member_id)
            except Exception:  # a subscriber's failure must not fail the order that already committed
                logger.exception("order hook %r failed for member %s", subscriber, member_id)

    transaction.on_commit(_notify)
