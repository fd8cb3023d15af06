"""Which stores a member's card lists as near them: from where the member is, when their browser (or
WeChat's JS-SDK) told us, otherwise from the store where they joined; the card says which."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from apps.core.errors import DomainError
from apps.stores.models import Store
from apps.stores.selectors import stores_nearby

from .models import Member


@dataclass(frozen=True)
class NearbyStores:
    basis: Literal["location", "join_store", "none"]
    stores: list[Store] = field(default_factory=list)
    join_store: Store | None = None


def stores_near_member(
    *, member: Member, lat: str | None = None, lng: str | None = None, limit: int = 3
) -> NearbyStores:
    """The nearest stores from (``lat``, ``lng``) when given and valid, else from the member's join store."""
    if lat and lng:
        try:
            return NearbyStores("location", list(stores_nearby(lat=float(lat), lng=float(lng), limit=limit)))
        except (ValueError, DomainError):
            pass  # not a usable position: fall back to the join store
    store = member.join_store
    if store is not None and store.lat is not None:
        nearby = list(stores_nearby(lat=float(store.lat), lng=float(store.lng), limit=limit))
        return NearbyStores("join_store", nearby, store)
    return NearbyStores("none")
