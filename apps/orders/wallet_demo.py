"""Demo: the demo member pays two orders with the card (one split with WeChat Pay) and returns part of one,
so the card page, the ledger and the liability report have something to show. Safe to run again."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F

from apps.catalog.models import Stock
from apps.catalog.selectors import sku_prices
from apps.members.models import Member
from apps.stores.models import Channel

from .models import Order, Refund
from .services import order_create, order_refund


def seed_wallet_orders() -> list[str]:
    member = Member.objects.filter(phone="+8613800138000", status="active").select_related("join_store").first()
    pos = Channel.objects.filter(kind=Channel.Kind.POS).order_by("pk").first()
    if member is None or member.join_store is None or pos is None or not hasattr(member, "wallet"):
        return ["wallet orders: skipped (demo member, store, card or POS channel missing)"]
    store = member.join_store
    skus = list(
        Stock.objects.filter(store=store, on_hand__gt=F("reserved") + 4, sku__is_active=True)
        .order_by("sku__code")
        .values_list("sku__code", flat=True)[:2]
    )
    if len(skus) < 2:
        return ["wallet orders: skipped (no stock in the member's store)"]
    done = {o.external_id: o for o in Order.objects.filter(channel=pos, external_id__startswith="DEMO-WALLET-")}
    first = done.get("DEMO-WALLET-1")
    if first is None:

        def total_of(lines):  # priced as order_create will, so the payments add up to its total
            prices = sku_prices(skus=[line["sku"] for line in lines], tier_id=member.tier_id)
            return sum((prices[line["sku"]].price * line["quantity"] for line in lines), Decimal("0.00"))

        total = total_of([{"sku": skus[0], "quantity": 1}])
        order_create(
            channel=pos, external_id="DEMO-WALLET-1", lines=[{"sku": skus[0], "quantity": 1}], store=store.code,
            member={"code": member.code}, payments=[{"method": "wallet", "amount": str(total)}],
        )  # fmt: skip
        lines = [{"sku": skus[0], "quantity": 1}, {"sku": skus[1], "quantity": 1}]
        member.refresh_from_db(fields=["tier"])  # the first order's spend may have moved the member up a tier
        total2 = total_of(lines)
        wallet_part = min(total2, total)
        payments = [{"method": "wallet", "amount": str(wallet_part)}]
        if total2 > wallet_part:
            payments.append({"method": "wechat_pay", "amount": str(total2 - wallet_part)})
        split, _created = order_create(
            channel=pos, external_id="DEMO-WALLET-2", lines=lines, store=store.code, member={"code": member.code},
            payments=payments,
        )  # fmt: skip
        order_refund(order=split, external_id="DEMO-WALLET-REFUND", lines=[(skus[1], 1)])
    refunds = Refund.objects.filter(order__channel=pos, order__external_id="DEMO-WALLET-2").count()
    return [f"wallet orders: 2 orders paid with the card of {member.code}, {refunds} refund back to it"]
