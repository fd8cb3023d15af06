from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core.errors import IdempotencyConflict
from apps.loyalty.models import RechargeRule, Wallet, WalletEntry, WalletMonth
from apps.loyalty.wallet.errors import InsufficientBalance, InvalidWalletAmount, RefundExceedsPayment, WalletEmpty
from apps.loyalty.wallet.selectors import (
    wallet_balance,
    wallet_ledger_mismatches,
    wallet_liability,
    wallet_months_close,
)
from apps.loyalty.wallet.services import (
    wallet_adjust,
    wallet_bonus_expire_due,
    wallet_pay_in_transaction,
    wallet_recharge,
    wallet_refund_in_transaction,
    wallet_withdraw,
)
from tests.factories import MemberFactory, StoreFactory, TierFactory, UserFactory

D = Decimal


@pytest.fixture
def store(db):
    return StoreFactory(code="S001")


@pytest.fixture
def gold(db):
    return TierFactory(code="gold", rank=2)


@pytest.fixture
def member(store):
    return MemberFactory(code="M1", join_store=store)


@pytest.fixture
def rules(db):
    RechargeRule.objects.create(name="500 get 50", min_amount=D("500"), bonus=D("50"), bonus_valid_days=30)
    RechargeRule.objects.create(name="1000 get 120", min_amount=D("1000"), bonus=D("120"))


def recharge(member, amount, key="R1", method="cash", **extra):
    return wallet_recharge(member=member, amount=amount, payment_method=method, idempotency_key=key, **extra)


def pay(member, amount, key):
    with transaction.atomic():
        return wallet_pay_in_transaction(member_id=member.pk, amount=D(amount), reference="test", idempotency_key=key)


def test_recharge_gets_the_best_rules_bonus_and_the_ledger_adds_up(member, rules):
    result = recharge(member, "1000.00")
    assert (result.amount, result.bonus, result.balance, result.created) == (D("1000"), D("120"), D("1120"), True)
    small = recharge(member, "499.99", key="R2")
    assert (small.bonus, small.balance) == (D("0"), D("1619.99"))
    assert wallet_balance(member_id=member.pk) == wallet_balance(member_id=member.pk).__class__(D("1499.99"), D("120"))
    kinds = list(
        WalletEntry.objects.filter(member=member).order_by("id").values_list("kind", "amount", "balance_after")
    )
    assert kinds == [
        ("recharge", D("1000.00"), D("1000.00")),
        ("bonus", D("120.00"), D("1120.00")),
        ("recharge", D("499.99"), D("1619.99")),
    ]
    assert wallet_ledger_mismatches() == []


def test_tier_only_rule_and_period(member, gold):
    now = timezone.now()
    rule = RechargeRule.objects.create(name="gold 500 get 80", min_amount=D("500"), bonus=D("80"))
    rule.tiers.set([gold])
    RechargeRule.objects.create(name="ended", min_amount=D("100"), bonus=D("999"), valid_until=now - timedelta(days=1))
    assert recharge(member, "500").bonus == D("0")  # not gold; the other rule's period is over
    member.tier = gold
    member.save()
    assert recharge(member, "500", key="R2").bonus == D("80")


def test_same_recharge_twice_books_once_and_another_body_is_refused(member, rules):
    first = recharge(member, "500")
    again = recharge(member, "500")
    assert (again.created, again.amount, again.bonus, again.balance) == (False, first.amount, first.bonus, D("550"))
    with pytest.raises(IdempotencyConflict):
        recharge(member, "600")
    assert WalletEntry.objects.count() == 2 and wallet_balance(member_id=member.pk).balance == D("550")


@pytest.mark.parametrize("amount", ["0", "-5.00", "50000.01", "1.001"])
def test_bad_recharge_amounts_book_nothing(member, amount, settings):
    settings.WALLET_MAX_RECHARGE = "50000.00"
    with pytest.raises(InvalidWalletAmount):
        recharge(member, amount)
    assert WalletEntry.objects.count() == 0 and wallet_balance(member_id=member.pk).balance == 0


def test_unknown_payment_method_is_refused(member):
    with pytest.raises(InvalidWalletAmount):
        recharge(member, "10", method="cheque")
    assert not WalletEntry.objects.exists()


def test_payment_spends_principal_before_bonus_and_refund_returns_in_proportion(member, rules):
    recharge(member, "500")  # 500 principal + 50 bonus
    entry = pay(member, "520.00", "P1")
    assert (entry.principal, entry.bonus, entry.balance_after) == (D("-500"), D("-20"), D("30"))
    back = _refund("P1", "260.00", "B1")  # half of the payment: half its principal, half its bonus
    assert (back.principal, back.bonus) == (D("250"), D("10"))
    back = _refund("P1", "260.00", "B2")
    assert (back.principal, back.bonus) == (D("250"), D("10"))
    assert wallet_balance(member_id=member.pk) == wallet_balance(member_id=member.pk).__class__(D("500"), D("50"))
    with pytest.raises(RefundExceedsPayment):
        _refund("P1", "0.01", "B3")
    assert wallet_ledger_mismatches() == []


def _refund(payment_key, amount, key):
    with transaction.atomic():
        return wallet_refund_in_transaction(
            payment_key=payment_key, amount=D(amount), reference="r", idempotency_key=key
        )


def test_partial_refunds_add_up_to_the_cent(member):
    recharge(member, "10.00")
    wallet_adjust(member=member, bonus="0.01", reason="goodwill", user=None, idempotency_key="A1")
    pay(member, "10.01", "P1")
    parts = [_refund("P1", "3.33", f"B{i}") for i in range(3)] + [_refund("P1", "0.02", "B3")]
    assert sum(p.principal for p in parts) == D("10.00") and sum(p.bonus for p in parts) == D("0.01")
    assert wallet_ledger_mismatches() == []


def test_payment_larger_than_the_balance_books_nothing(member):
    recharge(member, "100")
    with pytest.raises(InsufficientBalance):
        pay(member, "100.01", "P1")
    assert wallet_balance(member_id=member.pk).balance == D("100") and WalletEntry.objects.count() == 1


def test_bonus_expires_by_the_task_once(member, rules):
    recharge(member, "500")  # bonus 50, valid 30 days
    pay(member, "510", "P1")  # 500 principal + 10 bonus
    later = timezone.now() + timedelta(days=31)
    result = wallet_bonus_expire_due(now=later)
    assert (result.members, result.amount) == (1, D("40"))
    assert wallet_bonus_expire_due(now=later).members == 0
    assert wallet_balance(member_id=member.pk).balance == D("0")
    expiry = WalletEntry.objects.get(kind="expiry")
    assert (expiry.amount, expiry.bonus, expiry.balance_after) == (D("-40"), D("-40"), D("0"))
    assert wallet_ledger_mismatches() == []


def test_closing_the_card_refunds_principal_and_forfeits_bonus(member, rules):
    operator = UserFactory()
    recharge(member, "500")
    with pytest.raises(InvalidWalletAmount):
        wallet_withdraw(member=member, reason=" ", user=operator, idempotency_key="W0")
    entry = wallet_withdraw(member=member, reason="moving away", user=operator, idempotency_key="W1")
    assert (entry.kind, entry.principal, entry.bonus, entry.balance_after) == ("withdrawal", D("-500"), D("-50"), 0)
    assert entry.created_by == operator and entry.reason == "moving away"
    assert Wallet.objects.get(member=member).is_closed
    with pytest.raises(WalletEmpty):
        wallet_withdraw(member=member, reason="again", user=operator, idempotency_key="W2")
    assert wallet_ledger_mismatches() == []


def test_negative_balance_is_refused_by_the_database_too(member):
    from django.db import IntegrityError

    recharge(member, "10")
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(member=member).update(principal=D("-1"))


def test_liability_by_store_and_month_with_closed_months_summarised(member, rules, store):
    long_ago = timezone.now() - timedelta(days=70)
    recharge(member, "500", at=long_ago)  # bonus 50, expires 30 days later
    wallet_bonus_expire_due(now=long_ago + timedelta(days=31))
    recharge(member, "100", key="R2")
    pay(member, "30", "P1")
    before = wallet_liability()
    assert wallet_months_close() >= 1 and WalletMonth.objects.exists()
    assert wallet_liability() == before  # the summary changes nothing but the speed
    last = before[-1]
    assert (last.store, last.outstanding_principal, last.outstanding_bonus) == ("S001", D("570"), D("0"))
    assert sum(r.recharged for r in before) == D("600") and sum(r.breakage for r in before) == D("50")
    assert sum(r.spent_principal for r in before) == D("30")


def test_merging_members_moves_the_card_balance_to_the_survivor(member, rules):
    from apps.members.services import member_merge

    other = MemberFactory(code="M2")
    recharge(member, "500")  # 500 + 50 bonus
    recharge(other, "100", key="R2")
    member_merge(survivor=other, merged=member)
    assert wallet_balance(member_id=member.pk).balance == 0
    moved = wallet_balance(member_id=other.pk)
    assert (moved.principal, moved.bonus) == (D("600"), D("50"))
    assert wallet_ledger_mismatches() == []
