"""Demo wallet: "recharge 500 get 50" and "1000 get 120" rules, and recharges for a few members (the demo
member 13800138000 among them); orders' demo pays with the card and refunds part of it."""

from __future__ import annotations

from decimal import Decimal

from apps.members.models import Member

from .models import PaymentMethod, RechargeRule
from .services import wallet_recharge

RULES = [("Recharge 500, get 50", "500", "50", 365), ("Recharge 1000, get 120", "1000", "120", 365)]


def seed(*, stdout) -> list[str]:
    for name, min_amount, bonus, days in RULES:
        RechargeRule.objects.update_or_create(
            name=name, defaults={"min_amount": Decimal(min_amount), "bonus": Decimal(bonus), "bonus_valid_days": days}
        )
    members = list(Member.objects.filter(status="active").exclude(phone=None).order_by("pk")[:20])
    demo = Member.objects.filter(phone="+8613800138000", status="active").first()
    if demo is not None:
        members.insert(0, demo)
    methods = [PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.WECHAT_PAY]
    for i, member in enumerate(members):
        wallet_recharge(
            member=member,
            amount=Decimal(["1000", "500", "300"][i % 3]),
            payment_method=methods[i % 3],
            idempotency_key=f"demo-recharge:{member.pk}",  # reseeding books nothing again
            store_id=member.join_store_id,
        )
    return [f"wallet: {len(RULES)} recharge rules, {len(members)} cards recharged"]
