"""Member card codes: 12 digits, the last a Luhn check digit, so a mistyped or misread code is caught."""

from __future__ import annotations

import secrets


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def member_code_is_valid(code: str) -> bool:
    return len(code) == 12 and code.isdigit() and luhn_check_digit(code[:-1]) == code[-1]


def member_code_new() -> str:
    """A random card code (never starting with 0, so it survives spreadsheets); uniqueness is the DB's job."""
    body = str(secrets.randbelow(9 * 10**10) + 10**10)
    return body + luhn_check_digit(body)
