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


# The largest amount the money columns (numeric(12,2)) hold: anything larger is refused before it is booked.
MONEY_MAX = Decimal("9999999999.99")
