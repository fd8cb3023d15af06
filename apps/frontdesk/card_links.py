"""Signed, expiring links to a member's own card page (``/m/<token>/``).

The token is the member code signed with a salted ``TimestampSigner``: it cannot be forged or changed
to another member's code, and it stops working after ``MEMBER_CARD_LINK_MAX_AGE`` seconds. In production
members reach their card through WeChat OAuth; the link is for the demo, tests and SMS.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.members.errors import MemberErrorCode, MemberNotFound

SALT = "members.card-link"
DEFAULT_MAX_AGE = 7 * 24 * 3600


def card_link_max_age() -> int:
    return int(getattr(settings, "MEMBER_CARD_LINK_MAX_AGE", DEFAULT_MAX_AGE))


def card_token_make(*, member_code: str) -> str:
    return signing.TimestampSigner(salt=SALT).sign(member_code)


def card_link_make(*, member_code: str) -> str:
    """The path of the member's card page (add the site's origin to send it)."""
    return reverse("member_card:card", kwargs={"token": card_token_make(member_code=member_code)})


class CardLinkInvalid(MemberNotFound):
    code = MemberErrorCode.CARD_LINK_INVALID
    status = 403
    title = _("This card link is not valid")


class CardLinkExpired(CardLinkInvalid):
    code = MemberErrorCode.CARD_LINK_EXPIRED
    title = _("This card link has expired")


def card_token_read(*, token: str, max_age: int | None = None) -> str:
    """The member code in ``token``; ``CardLinkExpired`` or ``CardLinkInvalid`` otherwise."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        return signer.unsign(token, max_age=card_link_max_age() if max_age is None else max_age)
    except signing.SignatureExpired:
        raise CardLinkExpired() from None
    except signing.BadSignature:
        raise CardLinkInvalid() from None
