from decimal import Decimal, InvalidOperation

from apps.core.bulk import bulk_upsert
from apps.core.imports import Importer, ImportResult, Row, RowInvalid, register

from .models import Channel, Store

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def parse_bool(text: str, column: str, *, default: bool = True) -> bool:
    value = text.strip().lower()
    if value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RowInvalid(f"{text!r} is not yes/no", column)


def parse_code(text: str, column: str = "code") -> str:
    code = text.strip()
    if not code:
        raise RowInvalid("is required", column)
    if len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
        raise RowInvalid(f"{code!r} must be at most 32 letters, digits, '-' or '_'", column)
    return code


def _coordinate(text: str, column: str, limit: int) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowInvalid(f"{text!r} is not a number", column) from None
    if not value.is_finite() or not -limit <= value <= limit:
        raise RowInvalid(f"{text} is outside -{limit}..{limit}", column)
    return value.quantize(Decimal("0.000001"))


@register
class ChannelImporter(Importer):
    resource = "channels"
    columns = ("code", "name", "kind")
    key_columns = ("code",)

    def clean_row(self, raw: dict[str, str]) -> tuple:
        if raw["kind"] not in Channel.Kind.values:
            raise RowInvalid(f"{raw['kind']!r} is not one of {', '.join(Channel.Kind.values)}", "kind")
        if not raw["name"]:
            raise RowInvalid("is required", "name")
        return parse_code(raw["code"]), raw["name"][:100], raw["kind"]

    def write(self, rows: list[Row]) -> ImportResult:
        result = bulk_upsert(
            Channel,
            key=["code"],
            fields=["name", "kind"],
            rows=(r.values for r in rows),
            insert_values={"is_active": True},
        )
        return ImportResult.from_upsert(self.resource, len(rows), result)


@register
class StoreImporter(Importer):
    resource = "stores"
    columns = ("code", "name", "kind", "address", "city", "lat", "lng", "active")
    key_columns = ("code",)

    def clean_row(self, raw: dict[str, str]) -> tuple:
        if raw["kind"] not in Store.Kind.values:
            raise RowInvalid(f"{raw['kind']!r} is not one of {', '.join(Store.Kind.values)}", "kind")
        if not raw["name"]:
            raise RowInvalid("is required", "name")
        lat, lng = _coordinate(raw["lat"], "lat", 90), _coordinate(raw["lng"], "lng", 180)
        if (lat is None) != (lng is None):
            raise RowInvalid("lat and lng go together", "lat" if lat is None else "lng")
        return (
            parse_code(raw["code"]),
            raw["name"][:100],
            raw["kind"],
            raw["address"][:255],
            raw["city"][:64],
            lat,
            lng,
            parse_bool(raw["active"], "active"),
        )

    def write(self, rows: list[Row]) -> ImportResult:
        from django.conf import settings

        result = bulk_upsert(
            Store,
            key=["code"],
            fields=["name", "kind", "address", "city", "lat", "lng", "is_active"],
            rows=(r.values for r in rows),
            insert_values={"timezone": settings.TIME_ZONE},
        )
        return ImportResult.from_upsert(self.resource, len(rows), result)
