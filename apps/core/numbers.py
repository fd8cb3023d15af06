"""Ratios shown as people read them: ``0.1379`` is ``13.8%``, grouped as the active language groups numbers."""

from __future__ import annotations

from decimal import Decimal


def format_percent(ratio: Decimal | float | int | str | None, *, places: int = 1, language: str | None = None) -> str:
    """``ratio`` (a share, 0..1) as a percentage with ``places`` decimals (``13.8%``); empty for None."""
    if ratio is None or ratio == "":
        return ""
    from babel.numbers import format_decimal
    from django.conf import settings
    from django.utils import translation

    locale = translation.to_locale(language or translation.get_language() or settings.LANGUAGE_CODE)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return f"{format_decimal(Decimal(str(ratio)) * 100, format=pattern, locale=locale)}%"


def format_number(value: Decimal | float | int | str | None, *, places: int = 0, language: str | None = None) -> str:
    """A count or measure with thousands separators (``12,345``, ``2.45``); empty for None."""
    if value is None or value == "":
        return ""
    from babel.numbers import format_decimal
    from django.conf import settings
    from django.utils import translation

    locale = translation.to_locale(language or translation.get_language() or settings.LANGUAGE_CODE)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=locale)


def currency_symbol() -> str:
    """The symbol money is shown with (``¥``), as ``format_money`` writes it; for units in titles."""
    from apps.core.money import format_money

    return format_money(0).rstrip("0.,").lstrip("-")
