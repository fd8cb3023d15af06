"""Demo merchant: two cities, eight stores, a warehouse, an online outlet, every channel kind, staff per role."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from .models import ApiKey, Channel, Staff, Store
from .services import api_key_create, api_key_revoke, staff_create

CHANNELS = [
    ("pos", "Store POS", Channel.Kind.POS),
    ("mall", "Own online mall", Channel.Kind.MALL),
    ("mini", "WeChat mini program", Channel.Kind.MINI_PROGRAM),
    ("tmall", "Tmall flagship", Channel.Kind.PLATFORM),
    ("meituan", "Meituan", Channel.Kind.PLATFORM),
    ("live", "Douyin live room", Channel.Kind.LIVE),
]

STORES = [
    ("SH001", "Jing'an Kerry Centre", "store", "1515 Nanjing Rd W", "Shanghai", "31.228730", "121.449620"),
    ("SH002", "Xintiandi", "store", "123 Xingye Rd", "Shanghai", "31.219660", "121.475040"),
    ("SH003", "Lujiazui IFC", "store", "8 Century Ave", "Shanghai", "31.236940", "121.502080"),
    ("SH004", "Xujiahui Grand Gateway", "store", "1 Hongqiao Rd", "Shanghai", "31.193650", "121.437660"),
    ("SH005", "Wujiaochang", "store", "1 Songhu Rd", "Shanghai", "31.300880", "121.514540"),
    ("HZ001", "Hubin in77", "store", "77 Hubin Rd", "Hangzhou", "30.257210", "120.164230"),
    ("HZ002", "Wulin Yintai", "store", "530 Yan'an Rd", "Hangzhou", "30.275180", "120.163840"),
    ("HZ003", "Binjiang Longhu", "store", "3867 Jiangnan Ave", "Hangzhou", "30.209870", "120.210360"),
    ("WH01", "East China warehouse", "warehouse", "88 Logistics Rd, Jiading", "Shanghai", "31.383400", "121.250100"),
    ("WEB", "Online outlet", "online", "", "Shanghai", None, None),
]

# (username, password, code, name, role, store codes)
STAFF = [
    ("hq", "hq-demo-2026", "HQ01", "Wang Li (HQ)", Staff.Role.HQ_OPERATOR, []),
    ("manager", "manager-demo-2026", "M-SH001", "Chen Jing", Staff.Role.STORE_MANAGER, ["SH001"]),
    ("clerk", "clerk-demo-2026", "C-SH001", "Zhao Min", Staff.Role.CLERK, ["SH001"]),
    ("guide", "guide-demo-2026", "G-SH001", "Liu Yang", Staff.Role.GUIDE, ["SH001"]),
    ("clerk_hz", "clerk-hz-demo-2026", "C-HZ001", "Sun Hui", Staff.Role.CLERK, ["HZ001"]),
    ("guide_hz", "guide-hz-demo-2026", "G-HZ001", "Zhou Fang", Staff.Role.GUIDE, ["HZ001", "HZ002"]),
]


def seed(*, stdout) -> list[str]:
    for code, name, kind in CHANNELS:
        Channel.objects.update_or_create(code=code, defaults={"name": name, "kind": kind})
    for code, name, kind, address, city, lat, lng in STORES:
        Store.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "address": address,
                "city": city,
                "lat": Decimal(lat) if lat else None,
                "lng": Decimal(lng) if lng else None,
            },
        )
    User = get_user_model()
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", "admin-demo-2026")
    for username, password, code, name, role, store_codes in STAFF:
        if not Staff.objects.filter(code=code).exists():
            staff_create(
                code=code,
                name=name,
                role=role,
                username=username,
                password=password,
                stores=Store.objects.filter(code__in=store_codes),
            )
    for key in ApiKey.objects.filter(name="demo", revoked_at__isnull=True):
        api_key_revoke(key=key)
    _key, raw = api_key_create(channel_code="mall", name="demo")
    lines = ["Demo logins (user / password):", "  admin / admin-demo-2026   (superuser, operations console)"]
    lines += [f"  {u} / {p}   ({Staff.Role(r).label})" for u, p, _c, _n, r, _s in STAFF]
    lines.append(f"API key for channel 'mall' (Authorization: Api-Key ...): {raw}")
    return lines


def seed_clerk_walkthrough(*, stdout) -> list[str]:
    """After every app's demo data: a sale by the demo clerk today and an online voucher for the demo
    member, then the clerk login and a member-card link that show the store pages and the card."""
    from django.db.models import F

    from apps.catalog.models import Stock
    from apps.frontdesk.card_links import card_link_make
    from apps.members.models import Member
    from apps.orders.models import Order
    from apps.orders.services import order_create

    from .selectors import pos_channel

    member = Member.objects.filter(phone="+8613800138000", status=Member.Status.ACTIVE).first()
    store = Store.objects.filter(code="SH001").first()
    clerk = Staff.objects.filter(code="C-SH001").first()
    pos, mall = pos_channel(), Channel.objects.filter(code="mall").first()
    if not (member and store and clerk and pos and mall):
        return ["clerk pages: skipped (demo member, store SH001, clerk or channels missing)"]
    skus = list(
        Stock.objects.filter(store=store, on_hand__gt=F("reserved") + 2, sku__is_active=True)
        .order_by("sku__code")
        .values_list("sku__code", flat=True)[:2]
    )
    if not skus:
        return ["clerk pages: skipped (no stock in SH001)"]
    if not Order.objects.filter(channel=pos, external_id="DEMO-CLERK-SALE").exists():
        # Today's sale by the clerk: the demo member becomes SH001's customer and "My day" has numbers.
        order_create(
            channel=pos,
            external_id="DEMO-CLERK-SALE",
            lines=[{"sku": skus[0], "quantity": 1}],
            store=store.code,
            member={"code": member.code},
            guide=clerk.code,
            payment_method="counter",
        )
    voucher, _created = order_create(
        channel=mall,
        external_id="DEMO-VOUCHER",
        lines=[{"sku": skus[-1], "quantity": 1}],
        member={"code": member.code},
        fulfilment="voucher",
        payment_method="wechat_pay",
    )
    return [
        "Store clerk pages: http://127.0.0.1:8000/store/  log in as clerk / clerk-demo-2026 (store SH001);",
        f"  find member 13800138000 (card {member.code}); voucher to verify: {voucher.verification_code}"
        + (" (already verified)" if voucher.verified_at else ""),
        f"  another store's clerk: clerk_hz / clerk-hz-demo-2026. SKU to sell or look up: {skus[0]}",
        f"Member card (link valid 7 days): http://127.0.0.1:8000{card_link_make(member_code=member.code)}",
    ]
