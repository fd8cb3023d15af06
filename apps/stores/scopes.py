"""What a channel API key may do: its scopes (../shared/API.md, "Conventions").

A key carries a set of scopes; every API view declares the scope it needs (``apps.stores.auth.requires``).
Without ``--scopes`` (or a choice in the console) a key gets its channel kind's default.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

StrOrPromise = str | Promise


class Scope(StrEnum):
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    COUPONS_REDEEM = "coupons:redeem"
    VOUCHERS_VERIFY = "vouchers:verify"
    WALLET_WRITE = "wallet:write"
    CATALOG_READ = "catalog:read"
    KPIS_READ = "kpis:read"


SCOPE_LABELS: dict[Scope, StrOrPromise] = {
    Scope.MEMBERS_READ: _("look up members: card, points, coupons, profile, wallet"),
    Scope.MEMBERS_WRITE: _("register members and bind WeChat"),
    Scope.ORDERS_READ: _("read the channel's orders"),
    Scope.ORDERS_WRITE: _("post orders, refunds and payments"),
    Scope.COUPONS_REDEEM: _("redeem coupons and exchange points"),
    Scope.VOUCHERS_VERIFY: _("verify voucher orders in a store"),
    Scope.WALLET_WRITE: _("recharge wallets and pay with them"),
    Scope.CATALOG_READ: _("prices, availability, nearby stores, channel listings"),
    Scope.KPIS_READ: _("read the KPI figures"),
}

ALL_SCOPES: tuple[Scope, ...] = tuple(Scope)

# Platforms and live streams register the customers who join through them and post orders, but may not
# look members up, redeem coupons, verify vouchers or read KPIs.
_PARTNER_SCOPES = (Scope.CATALOG_READ, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.MEMBERS_WRITE)
DEFAULT_SCOPES_BY_KIND: dict[str, tuple[Scope, ...]] = {
    "pos": ALL_SCOPES,
    "mall": ALL_SCOPES,
    "mini_program": ALL_SCOPES,
    "platform": _PARTNER_SCOPES,
    "live": _PARTNER_SCOPES,
}


def scopes_default_for(kind: str) -> tuple[Scope, ...]:
    """A new key's scopes for a channel of this kind (none for an unknown kind: fail closed)."""
    return DEFAULT_SCOPES_BY_KIND.get(kind, ())


def scopes_parse(values: Iterable[str]) -> tuple[Scope, ...]:
    """Known scopes in their canonical order; ValueError naming the unknown ones."""
    given = {v.strip() for v in values if v.strip()}
    unknown = sorted(given - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}")
    return tuple(s for s in ALL_SCOPES if s in given)


def scopes_to_text(scopes: Iterable[str]) -> str:
    """How a key's scopes are stored: space-separated, as OAuth writes them."""
    return " ".join(scopes_parse(scopes))
