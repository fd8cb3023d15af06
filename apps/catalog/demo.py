"""Demo catalog: a fashion and sports retailer's categories, ~300 SKUs, member prices, an upcoming price
change, stock spread over the stores, and a few channel listings that drift from the unified price."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.core.dates import local_midnight
from apps.core.imports import import_table
from apps.core.money import quantize_money
from apps.members.models import Tier
from apps.stores.models import Channel, Store

from .models import Category, ChannelListing, PriceChange, Product, Sku
from .selectors import sku_prices
from .services import price_change_schedule

CATEGORIES = [
    ("apparel", "Apparel", None),
    ("tops", "Tops", "apparel"),
    ("bottoms", "Bottoms", "apparel"),
    ("outerwear", "Outerwear", "apparel"),
    ("footwear", "Footwear", None),
    ("running", "Running shoes", "footwear"),
    ("casual", "Casual shoes", "footwear"),
    ("accessories", "Accessories", None),
    ("bags", "Bags", "accessories"),
    ("hats", "Hats and caps", "accessories"),
]

APPAREL_SIZES = ["S", "M", "L", "XL"]
SHOE_SIZES = ["38", "39", "40", "41", "42", "43", "44"]
COLOURS = ["white", "black", "navy", "grey", "red", "olive"]

# (category, style names, brand, base price, sizes)
LINES = [
    (
        "tops",
        ["Classic tee", "Pocket tee", "Oxford shirt", "Polo", "Hoodie", "Crew sweatshirt", "Linen shirt"],
        "Lanfeng",
        129,
        APPAREL_SIZES,
    ),
    (
        "bottoms",
        ["Slim chinos", "Relaxed jeans", "Track pants", "Cargo shorts", "Pleated skirt"],
        "Lanfeng",
        259,
        APPAREL_SIZES,
    ),
    ("outerwear", ["Down jacket", "Windbreaker", "Fleece vest", "Rain shell"], "Beifeng", 699, APPAREL_SIZES),
    ("running", ["Cloud runner", "Tempo racer", "Trail grip"], "Suxing", 599, SHOE_SIZES),
    ("casual", ["Canvas low", "Leather court", "Slip-on"], "Suxing", 399, SHOE_SIZES),
    ("bags", ["Day pack", "Tote", "Sling bag", "Duffel"], "Beifeng", 229, ["one size"]),
    ("hats", ["Baseball cap", "Bucket hat", "Beanie"], "Lanfeng", 79, ["one size"]),
]


def _catalog_rows(rng: random.Random) -> list[list[str]]:
    rows = [["sku", "product", "name", "category", "barcode", "price", "active", "brand", "size", "colour"]]
    serial = 0
    for category, names, brand, base, sizes in LINES:
        for n, name in enumerate(names):
            style = f"{category[:3].upper()}{n + 1:02d}"
            price = quantize_money(Decimal(base) * Decimal(rng.choice(["0.8", "0.9", "1", "1.2", "1.5"]))) - Decimal(
                "0.10"
            )
            colours = rng.sample(COLOURS, 2 if len(sizes) > 4 else 3)
            for colour in colours:
                for size in sizes:
                    serial += 1
                    code = f"{style}-{colour[:3].upper()}" + ("" if size == "one size" else f"-{size}")
                    rows.append(
                        [
                            code,
                            style,
                            f"{name} {colour} {size}",
                            category,
                            f"69{serial:011d}",
                            str(price),
                            "yes",
                            brand,
                            "" if size == "one size" else size,
                            colour,
                        ]
                    )
    return rows


def _next_monday_midnight() -> datetime:
    today = timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    return local_midnight(monday)


def seed(*, stdout) -> list[str]:
    rng = random.Random(2026)
    by_code: dict[str, Category] = {}
    for code, name, parent in CATEGORIES:
        by_code[code], _created = Category.objects.update_or_create(
            code=code, defaults={"name": name, "parent": by_code.get(parent) if parent else None}
        )
    rows = _catalog_rows(rng)
    known = set(Sku.objects.values_list("code", flat=True))
    import_table("skus", rows)
    skus = {s.code: s for s in Sku.objects.filter(code__in=[r[0] for r in rows[1:]])}
    for product in Product.objects.filter(code__in={r[1] for r in rows[1:]}, description=""):
        product.description = (
            f"{product.brand} {product.name.split(' ')[0].lower()} style; ships from the nearest store."
        )
        product.image_urls = [f"https://img.example.com/{product.code.lower()}/{i}.jpg" for i in (1, 2)]
        product.save(update_fields=["description", "image_urls"])

    # New SKUs get a richer history: a higher launch price six weeks ago, then today's price.
    now = timezone.now()
    prices = sku_prices(skus=list(skus), at=now)
    history_rng = random.Random(1)
    PriceChange.objects.bulk_create(
        [
            PriceChange(
                sku=sku,
                price=quantize_money(prices[code].list_price * Decimal("1.15")),
                valid_from=now - timedelta(days=42),
                source=PriceChange.Source.SEED,
                note="launch price",
            )
            for code, sku in skus.items()
            if code not in known and history_rng.random() < 0.3
        ]
    )

    # An upcoming markdown of the outerwear line next Monday (takes effect by itself at midnight).
    monday = _next_monday_midnight()
    outerwear = [s for c, s in skus.items() if c.startswith("OUT")]
    for sku in outerwear:
        if not PriceChange.objects.filter(sku=sku, valid_from=monday).exists():
            price_change_schedule(
                sku=sku,
                price=quantize_money(prices[sku.code].list_price * Decimal("0.8")),
                valid_from=monday,
                source=PriceChange.Source.SEED,
                note="winter markdown",
            )

    # Member prices for the tiers that exist (the members demo may seed tiers after this runs).
    tiers = list(Tier.objects.order_by("rank"))
    if len(tiers) > 1:
        table = [["sku", "tier", "price"]]
        tier_rng = random.Random(2)
        for code in sorted(skus):
            if tier_rng.random() < 0.4:
                current = prices[code].list_price
                for i, tier in enumerate(tiers[1:], start=1):
                    table.append(
                        [code, tier.code, str(quantize_money(current * (Decimal("0.97") - Decimal("0.03") * i)))]
                    )
        import_table("tier_prices", table)

    # Stock: every SKU in some stores, more in the warehouse; the same numbers each run.
    stores = list(Store.objects.filter(kind__in=[Store.Kind.STORE, Store.Kind.WAREHOUSE]).order_by("code"))
    table = [["store", "sku", "quantity"]]
    rng = random.Random(3)
    for code in sorted(skus):
        for store in stores:
            if store.kind == Store.Kind.WAREHOUSE:
                table.append([store.code, code, str(rng.randint(20, 120))])
            elif rng.random() < 0.7:
                table.append([store.code, code, str(rng.choice([0, 1, 1, 2, 3, 4, 6, 8, 12]))])
    stock_result = import_table("stock", table)

    # Channels report their listings; Tmall lags behind on a few SKUs (see the deviation report).
    channels = {c.code: c for c in Channel.objects.filter(code__in=["mall", "tmall"])}
    listings = []
    for i, (code, sku) in enumerate(sorted(skus.items())[:40]):
        current = prices[code].list_price
        for channel_code, channel in channels.items():
            listed = current + Decimal("10.00") if channel_code == "tmall" and i % 9 == 0 else current
            listings.append(ChannelListing(channel=channel, sku=sku, listed_price=listed, reported_at=now))
    ChannelListing.objects.bulk_create(
        listings, update_conflicts=True, unique_fields=["channel", "sku"], update_fields=["listed_price", "reported_at"]
    )
    example = sorted(skus)[0]
    return [
        f"Catalog: {len(skus)} SKUs in {len(CATEGORIES)} categories; {stock_result}",
        f"  try GET /api/v1/skus/{example}/price and /api/v1/skus/{example}/availability?lat=31.23&lng=121.47",
    ]
