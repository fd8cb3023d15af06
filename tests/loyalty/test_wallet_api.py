from decimal import Decimal

import pytest

from apps.loyalty.models import RechargeRule, WalletEntry
from apps.loyalty.wallet.selectors import wallet_balance
from tests.factories import MemberFactory, StoreFactory


@pytest.fixture
def member(db):
    return MemberFactory(code="M1", join_store=StoreFactory(code="S001"))


@pytest.fixture
def rule(db):
    return RechargeRule.objects.create(name="500 get 50", min_amount=Decimal("500"), bonus=Decimal("50"))


def recharge(api, code="M1", **extra):
    data = {"external_id": "T1", "amount": "500.00", "store": "S001", "payment_method": "wechat_pay", **extra}
    return api.post(f"/api/v1/members/{code}/wallet/recharges", data, format="json")


def test_recharge_then_wallet_shows_balance_and_entries(api, member, rule):
    response = recharge(api)
    assert response.status_code == 201, response.json()
    assert response.json() == {"amount": "500.00", "bonus": "50.00", "balance": "550.00"}
    wallet = api.get("/api/v1/members/M1/wallet").json()
    assert (wallet["balance"], wallet["principal"], wallet["bonus"]) == ("550.00", "500.00", "50.00")
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in wallet["entries"]] == [
        ("bonus", "50.00", "550.00"),
        ("recharge", "500.00", "500.00"),
    ]


def test_same_recharge_again_answers_200_and_books_once(api, member, rule):
    first = recharge(api).json()
    again = recharge(api)
    assert again.status_code == 200 and again.json() == first
    conflict = recharge(api, amount="600.00")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert WalletEntry.objects.count() == 2 and wallet_balance(member_id=member.pk).balance == Decimal("550.00")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-10.00"}, "amount"),
        ({"amount": "50000.01"}, "amount"),
        ({"payment_method": "cheque"}, "payment_method"),
        ({"store": "NOPE"}, "store"),
    ],
)
def test_bad_recharges_are_400_and_book_nothing(api, member, change, field):
    response = recharge(api, **change)
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert not WalletEntry.objects.exists()


def test_unknown_member_is_404(api, member):
    for response in (recharge(api, code="NOBODY"), api.get("/api/v1/members/NOBODY/wallet")):
        assert response.status_code == 404 and response.json()["code"] == "member_not_found"
    assert not WalletEntry.objects.exists()


def test_wallet_needs_a_key(anon_api, member):
    assert anon_api.get("/api/v1/members/M1/wallet").status_code == 401
