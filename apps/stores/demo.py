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
    # The shopping guides' WeCom accounts (their WeCom steps send from these user ids).
    for code, wecom_userid in (("G-SH001", "liuyang"), ("G-HZ001", "zhoufang"), ("C-SH001", "zhaomin")):
        Staff.objects.filter(code=code, wecom_userid=None).update(wecom_userid=wecom_userid)
    for key in ApiKey.objects.filter(name="demo", revoked_at__isnull=True):
        api_key_revoke(key=key)
    _key, raw = api_key_create(channel_code="mall", name="demo")
    lines = ["Demo logins (user / password):", "  admin / admin-demo-2026   (superuser, operations console)"]
    lines += [f"  {u} / {p}   ({Staff.Role(r).label})" for u, p, _c, _n, r, _s in STAFF]
    lines.append(f"API key for channel 'mall' (Authorization: Api-Key ...): {raw}")
    return lines
