from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import ExpressionWrapper, F, FloatField, QuerySet, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Sin, Sqrt
from django.utils import timezone

from apps.core.db import aware_datetime

from .errors import InvalidLocation, UnknownStore
from .models import ApiKey, Channel, Staff, Store

EARTH_RADIUS_KM = 6371.0088


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class AuthenticatedKey:
    id: int
    channel_id: int
    channel_code: str
    scopes: frozenset[str]


def api_key_authenticate(*, raw_key: str) -> AuthenticatedKey | None:
    """The active key matching ``raw_key`` (``<prefix>.<secret>``), or None.

    Runs on every API request, so it is one indexed query with no ORM model building.
    """
    prefix, _, secret = raw_key.partition(".")
    if not prefix or not secret or len(prefix) > 12:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT k.id, k.channel_id, c.code, k.hashed_secret, k.last_used_at, k.scopes "
            f"FROM {ApiKey._meta.db_table} k JOIN {Channel._meta.db_table} c ON c.id = k.channel_id "
            f"WHERE k.prefix = %s AND k.revoked_at IS NULL AND c.is_active",
            [prefix],
        )
        row = cursor.fetchone()
    if row is None or not hmac.compare_digest(row[3], _hash_secret(secret)):
        return None
    now = timezone.now()
    last_used = aware_datetime(row[4])
    if last_used is None or now - last_used > timedelta(minutes=1):
        # At most one write a minute per key, so a busy channel does not write on every request.
        ApiKey.objects.filter(pk=row[0]).update(last_used_at=now)
    return AuthenticatedKey(id=row[0], channel_id=row[1], channel_code=row[2], scopes=frozenset(row[5].split()))


def validate_location(lat: float | Decimal, lng: float | Decimal) -> tuple[float, float]:
    lat, lng = float(lat), float(lng)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidLocation(f"({lat}, {lng}) is not a location on Earth")
    return lat, lng


def distance_km(*, lat: float, lng: float, prefix: str = "") -> Combinable:
    """Great-circle (haversine) distance in km from (lat, lng) to the row's ``{prefix}lat/lng``."""
    row_lat = Radians(Cast(F(f"{prefix}lat"), FloatField()))
    row_lng = Radians(Cast(F(f"{prefix}lng"), FloatField()))
    dlat = row_lat - Value(math.radians(lat), output_field=FloatField())
    dlng = row_lng - Value(math.radians(lng), output_field=FloatField())
    cos_lat = Value(math.cos(math.radians(lat)), output_field=FloatField())
    a = Power(Sin(dlat / 2), 2) + cos_lat * Cos(row_lat) * Power(Sin(dlng / 2), 2)
    return ExpressionWrapper(2 * EARTH_RADIUS_KM * ASin(Sqrt(a)), output_field=FloatField())


def stores_nearby(*, lat: float, lng: float, limit: int = 5, kinds: tuple[str, ...] | None = None) -> QuerySet[Store]:
    """Active stores with a location, nearest first, annotated with ``distance_km``."""
    lat, lng = validate_location(lat, lng)
    qs = Store.objects.filter(is_active=True, lat__isnull=False, lng__isnull=False)
    qs = qs.filter(kind__in=kinds or (Store.Kind.STORE,))
    return qs.annotate(distance_km=distance_km(lat=lat, lng=lng)).order_by("distance_km", "code")[:limit]


def store_get(*, code: str) -> Store:
    try:
        return Store.objects.get(code=code)
    except Store.DoesNotExist:
        raise UnknownStore(f"There is no store {code!r}.") from None


def staff_for_user(user) -> Staff | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.staff
    except Staff.DoesNotExist:
        return None


def user_may_use_admin(user) -> bool:
    """Superusers and HQ operators use the console; store managers, clerks and guides never do."""
    if not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return False
    if user.is_superuser:
        return True
    staff = staff_for_user(user)
    return staff is not None and staff.is_active and staff.role == Staff.Role.HQ_OPERATOR


def pos_channel() -> Channel | None:
    """The store POS channel in-store sales and redemptions are booked on (the first active one by code)."""
    return Channel.objects.filter(kind=Channel.Kind.POS, is_active=True).order_by("code").first()
