"""Demo orders: a year of history across channels (in store, own mall, mini program, platforms), imported
set-based through the historic import so KPIs, tiers and campaigns have something to look at."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from apps.catalog.models import Sku
from apps.catalog.selectors import sku_prices
from apps.core.imports import import_table
from apps.members.models import Member
from apps.stores.models import Channel, Store

from .models import Order

HEADER = ["external_id", "channel", "store", "member_phone", "placed_at", "sku", "quantity", "unit_price"]
MEMBERS = 3000


def seed(*, stdout) -> list[str]:
    if Order.objects.filter(external_id__startswith="DEMO-").exists():
        return [f"orders: {Order.objects.count()} orders already there"]
    channels = dict(Channel.objects.values_list("kind", "code"))
    online = [code for kind, code in channels.items() if kind != Channel.Kind.POS] or list(channels.values())
    pos = channels.get(Channel.Kind.POS) or online[0]
    stores = list(Store.objects.filter(kind=Store.Kind.STORE, is_active=True).values_list("code", flat=True))
    codes = list(Sku.objects.filter(is_active=True).values_list("code", flat=True)[:200])
    if not (channels and stores and codes):
        return ["orders: skipped (no channels, stores or SKUs yet)"]
    prices = sku_prices(skus=codes)
    codes = list(prices)
    members = list(
        Member.objects.filter(status="active").exclude(phone=None).values_list("phone", "join_store__code")[:MEMBERS]
    )
    rng = random.Random(2026)
    now = timezone.now()
    rows: list[list[str]] = [HEADER]
    n = 0
    shoppers = [(phone, store) for phone, store in members] + [("", None)] * (len(members) // 2)
    for phone, home in shoppers:
        for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 6, 9])):
            n += 1
            is_online = bool(phone) and rng.random() < 0.35
            channel = rng.choice(online) if is_online else pos
            store = home if home and rng.random() < 0.8 else rng.choice(stores)
            placed = now - timedelta(days=rng.randrange(1, 365), minutes=rng.randrange(600, 1320))
            for sku in rng.sample(codes, min(len(codes), rng.choice([1, 1, 2, 3]))):
                price = prices[sku].list_price
                rows.append(
                    [
                        f"DEMO-{n}",
                        channel,
                        store,
                        phone,
                        placed.isoformat(),
                        sku,
                        str(rng.choice([1, 1, 2])),
                        str(price),
                    ]
                )
    result = import_table("orders", rows)
    lines = [f"orders: {result.created} historic orders over the last year ({len(rows) - 1} lines)"]
    return lines
