"""Phone numbers: stored as E.164, parsed in any usual form, shown masked."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from django.conf import settings

from .errors import InvalidPhone

# Chinese mobile numbers (11 digits from 1) are most of what members give. Whether one is valid depends
# only on its first five digits (phonenumbers' CN mobile pattern), so it is decided once per prefix:
# imports of a million members would otherwise spend a minute in phonenumbers.
_CN_MOBILE = re.compile(r"^(?:(?:\+|00)86)?(1\d{10})$")
SEPARATORS = re.compile(r"[\s\-().]")


@lru_cache(maxsize=4096)
def _cn_mobile_prefix_is_valid(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number, "CN"))


def phone_normalize(raw: str) -> str:
    """E.164 form of ``raw`` (default region settings.PHONE_REGION); raise InvalidPhone if it is not a number."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidPhone(f"{raw!r} is not a phone number.")
    compact = SEPARATORS.sub("", text)
    mobile = _CN_MOBILE.match(compact)
    if mobile and (compact[0] in "+0" or settings.PHONE_REGION == "CN"):
        national = mobile.group(1)
        if _cn_mobile_prefix_is_valid(national[:5] + "000000"):
            return "+86" + national
        raise InvalidPhone(f"{raw!r} is not a valid phone number.")
    try:
        number = phonenumbers.parse(text, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{raw!r} is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_mask(e164: str | None) -> str:
    """``+8613812348000`` -> ``138****8000``: national number with the middle digits hidden."""
    if not e164:
        return ""
    try:
        national = str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        national = e164.lstrip("+")
    if len(national) <= 4:
        return "*" * len(national)
    head = min(3, max(0, len(national) - 8))
    return national[:head] + "*" * (len(national) - head - 4) + national[-4:]
