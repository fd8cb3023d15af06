"""What the order services share: idempotency digests, order numbers, row loading and the row locks."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db import models as db_models
from django.utils import timezone

from apps.stores.models import Store

from ..errors import (
    UnknownStore,
)
from ..models import Order

ZERO = Decimal("0.00")
M = TypeVar("M", bound=db_models.Model)
F = Order.Fulfilment
_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: read aloud at a counter without doubt


def fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable digest of a request body: the same body twice gives the same digest."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def order_number_new(at: datetime) -> str:
    return timezone.localtime(at).strftime("%y%m%d") + "".join(secrets.choice(_B32) for _ in range(8))


def verification_code_new() -> str:
    """Twelve random digits: 10^12 possibilities, unique index behind it."""
    return f"{secrets.randbelow(10**12):012d}"


@cache
def _fields_by_attname(model: type[db_models.Model]) -> dict[str, db_models.Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


def _from_row(model: type[M], attnames: Sequence[str], values: Sequence[Any]) -> M:
    """A model instance from a raw row, values converted as the ORM would."""
    converted = []
    fields = _fields_by_attname(model)
    for attname, value in zip(attnames, values, strict=True):
        field = fields[attname]
        column = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, attnames, converted)


def _store(code: str | None) -> Store | None:
    """The active store by code; only id and code are loaded (the rest loads on access)."""
    if not code:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, code FROM {Store._meta.db_table} WHERE code = %s AND is_active = %s LIMIT 1", [code, True]
        )
        row = cursor.fetchone()
    if row is None:
        raise UnknownStore(f"There is no active store {code}.")
    return _from_row(Store, ["id", "code"], row)


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update(no_key=True).get(pk=order.pk)
