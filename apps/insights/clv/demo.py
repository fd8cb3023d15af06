"""Demo history for the lifetime value models: two years of repeat purchases drawn from the BG/NBD and
Gamma-Gamma models themselves, imported through the historic order import like the rest of the demo."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from apps.catalog.models import Sku
from apps.catalog.selectors import sku_prices
from apps.core.imports import import_table
from apps.members.models import Member
from apps.orders.models import Order
from apps.stores.models import Channel, Store

from ..errors import ClvCannotFit
from .services import clv_fit

HEADER = ["external_id", "channel", "store", "member_phone", "placed_at", "sku", "quantity", "unit_price"]
MEMBERS = 3000
HISTORY_DAYS = 730


def history_seed() -> str:
    """Members' purchase histories over two years (once): rates ~ Gamma(0.8, 60 days), dropout ~ Beta(0.7, 3)."""
    if Order.objects.filter(external_id__startswith="DEMO-CLV-").exists():
        return "predicted value: demo purchase history already there"
    pos = Channel.objects.filter(kind=Channel.Kind.POS).values_list("code", flat=True).first()
    stores = list(Store.objects.filter(kind=Store.Kind.STORE, is_active=True).values_list("code", flat=True))
    prices = sku_prices(skus=list(Sku.objects.filter(is_active=True).values_list("code", flat=True)[:100]))
    members = list(
        Member.objects.filter(status="active").exclude(phone=None).values_list("phone", "join_store__code")[:MEMBERS]
    )
    if not (pos and stores and prices and members):
        return "predicted value: no demo history (no channel, store, SKU or member yet)"
    rng = np.random.default_rng(2026)
    skus = sorted(prices)
    today = timezone.now()
    rows: list[list[str]] = [HEADER]
    n = 0
    for phone_or_none, home in members:
        phone = phone_or_none or ""
        rate, dropout = rng.gamma(0.8, 1 / 60.0), rng.beta(0.7, 3.0)
        basket = rng.gamma(6.0, 1.0) / 6  # the member's own spend level around 1x
        age = float(rng.integers(30, HISTORY_DAYS))
        elapsed = 0.0
        while elapsed < age - 1:
            n += 1
            sku = skus[int(rng.integers(len(skus)))]
            quantity = max(1, round(basket * float(rng.gamma(3.0, 1 / 3.0)) * 2))
            placed = today - timedelta(days=age - elapsed, minutes=int(rng.integers(0, 600)))
            store = home or stores[int(rng.integers(len(stores)))]
            price = str(prices[sku].list_price)
            rows.append([f"DEMO-CLV-{n}", pos, store, phone, placed.isoformat(), sku, str(quantity), price])
            if elapsed and rng.random() < dropout:
                break
            elapsed += float(rng.exponential(1 / rate)) + 1
    result = import_table("orders", rows)
    return f"predicted value: {result.created} historic orders over two years"


def fit() -> str:
    try:
        model = clv_fit()
    except ClvCannotFit as exc:
        return f"predicted value: not fitted ({exc.message})"
    return (
        f"predicted value: fitted as of {model.as_of} on {model.members} members; diagnostics at "
        "/admin/insights/clvmodel/"
    )
