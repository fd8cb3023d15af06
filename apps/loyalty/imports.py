"""Import ``coupon_templates`` (see ../shared/API.md): all or nothing, matched by code."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import timezone

from apps.core.bulk import bulk_upsert
from apps.core.imports import Importer, ImportResult, Row, RowInvalid, register
from apps.stores.imports import parse_code

from .models import CouponTemplate


def _amount(text: str, column: str, *, required: bool = True) -> Decimal | None:
    if not text:
        if required:
            raise RowInvalid("is required", column)
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowInvalid(f"{text!r} is not a number", column) from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise RowInvalid(f"{text!r} is not an amount with at most two decimals", column)
    return value


def _count(text: str, column: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise RowInvalid(f"{text!r} is not a whole number", column)
    return int(text)


@register
class CouponTemplateImporter(Importer):
    resource = "coupon_templates"
    columns = (
        "code",
        "name",
        "kind",
        "value",
        "min_spend",
        "valid_days",
        "points_cost",
        "per_member_limit",
        "total_limit",
    )
    key_columns = ("code",)

    def clean_row(self, raw: dict[str, str]) -> tuple:
        if raw["kind"] not in CouponTemplate.Kind.values:
            raise RowInvalid(f"{raw['kind']!r} is not amount or percent", "kind")
        if not raw["name"]:
            raise RowInvalid("is required", "name")
        value = _amount(raw["value"], "value")
        if value == 0 or (raw["kind"] == "percent" and value > 100):
            raise RowInvalid("must be above 0 (and at most 100 for percent)", "value")
        valid_days = _count(raw["valid_days"], "valid_days")
        if not valid_days:
            raise RowInvalid("is required (days a coupon stays valid after issue)", "valid_days")
        return (
            parse_code(raw["code"]),
            raw["name"][:100],
            raw["kind"],
            value,
            _amount(raw["min_spend"], "min_spend", required=False) or Decimal("0.00"),
            valid_days,
            _count(raw["points_cost"], "points_cost"),
            _count(raw["per_member_limit"], "per_member_limit"),
            _count(raw["total_limit"], "total_limit"),
        )

    def write(self, rows: list[Row]) -> ImportResult:
        result = bulk_upsert(
            CouponTemplate,
            key=["code"],
            fields=[
                "name",
                "kind",
                "value",
                "min_spend",
                "valid_days",
                "points_cost",
                "per_member_limit",
                "total_limit",
            ],
            rows=(r.values for r in rows),
            insert_values={"issued_count": 0, "is_active": True, "is_stackable": False, "created_at": timezone.now()},
        )
        return ImportResult.from_upsert(self.resource, len(rows), result)
