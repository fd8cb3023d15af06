"""Money is Decimal with two places, quantized in one place (ROUND_HALF_UP)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def quantize_money(amount: Decimal | int | str) -> Decimal:
    """Round an amount to cents, half up, as receipts do."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(text: str) -> Decimal:
    """Parse a decimal money string; raise ValueError unless it is a non-negative amount with at most two places."""
    try:
        value = Decimal(str(text).strip())
    except ArithmeticError as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    if value != value.quantize(CENT):
        raise ValueError(f"{text!r} has more than two decimal places")
    return value.quantize(CENT)


def format_money(amount: Decimal | int | str | None, *, language: str | None = None) -> str:
    """``amount`` as people read money: the currency symbol, thousands separators and two decimals, grouped as
    the language groups numbers (``¥1,234.50``, ``-¥3.00``); empty for None.

    The symbol is the one people in the merchant's market use (``¥`` for CNY, in English too, where CLDR would
    write ``CN¥``).
    """
    if amount is None or amount == "":
        return ""
    from babel.numbers import format_decimal, get_currency_symbol
    from django.conf import settings
    from django.utils import translation

    value = quantize_money(amount)
    locale = translation.to_locale(language or translation.get_language() or settings.LANGUAGE_CODE)
    symbol = get_currency_symbol(settings.CURRENCY, locale=_HOME_LOCALE.get(settings.CURRENCY, locale))
    digits = format_decimal(abs(value), format="#,##0.00", locale=locale)
    return f"{'-' if value < 0 else ''}{symbol}{digits}"


# The locale whose symbol people in the currency's own market write.
_HOME_LOCALE = {"CNY": "zh_Hans_CN", "HKD": "zh_Hant_HK", "TWD": "zh_Hant_TW", "JPY": "ja_JP", "USD": "en_US"}


# The largest amount the money columns (numeric(12,2)) hold: anything larger is refused before it is booked.
MONEY_MAX = Decimal("9999999999.99")
