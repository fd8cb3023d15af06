"""The demo's walkthrough of the pages people use, seeded after every domain app's demo data."""

from __future__ import annotations

from django.db.models import F

from apps.catalog.models import Stock
from apps.core.demo_links import demo_url
from apps.members.models import Member
from apps.orders.models import Order
from apps.orders.services import order_create
from apps.stores.models import Channel, Staff, Store
from apps.stores.selectors import pos_channel

from .card_links import card_link_make


def seed_clerk_walkthrough(*, stdout) -> list[str]:
    """After every app's demo data: a sale by the demo clerk today and an online voucher for the demo
    member, then the clerk login and a member-card link that show the store pages and the card."""
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
        f"Store clerk pages: {demo_url('/store/')}  log in as clerk / clerk-demo-2026 (store SH001);",
        f"  find member 13800138000 (card {member.code}); voucher to verify: {voucher.verification_code}"
        + (" (already verified)" if voucher.verified_at else ""),
        f"  another store's clerk: clerk_hz / clerk-hz-demo-2026. SKU to sell or look up: {skus[0]}",
        f"Member card (link valid 7 days): {demo_url(card_link_make(member_code=member.code))}",
    ]
