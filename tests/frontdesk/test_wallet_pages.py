"""Clerk pages for the member card's stored value: recharge at the counter, pay part of a sale from the card."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from apps.loyalty.models import RechargeRule, WalletEntry
from apps.loyalty.wallet.selectors import wallet_balance
from apps.orders.models import Order
from tests.browser.world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def clerk(client, world):
    client.force_login(world.clerk.user)
    return client


def _recharge_id(clerk, code) -> str:
    page = clerk.get(f"/store/members/{code}/wallet/recharge/").content.decode()
    return re.search(r'name="recharge_id" value="([^"]+)"', page).group(1)


def test_counter_recharge_books_once_with_the_method_and_shows_on_the_member_page(clerk, world):
    RechargeRule.objects.create(name="500 get 50", min_amount=Decimal("500"), bonus=Decimal("50"))
    code = world.member.code
    data = {"amount": "500.00", "payment_method": "wechat_pay", "recharge_id": _recharge_id(clerk, code)}
    url = f"/store/members/{code}/wallet/recharge/"
    assert clerk.post(url, data).status_code == 302
    assert clerk.post(url, data).status_code == 302  # a double tap
    entry = WalletEntry.objects.get(kind="recharge")
    assert (entry.amount, entry.payment_method, entry.store_id) == (Decimal("500.00"), "wechat_pay", world.store.pk)
    page = clerk.get(f"/store/members/{code}/").content.decode()
    assert "¥550.00" in page


def test_a_zero_recharge_is_refused_with_a_message(clerk, world):
    code = world.member.code
    data = {"amount": "0", "payment_method": "cash", "recharge_id": "z1"}
    response = clerk.post(f"/store/members/{code}/wallet/recharge/", data)
    assert response.status_code == 200 and "above zero" in response.content.decode()
    assert not WalletEntry.objects.exists()


def test_another_stores_member_cannot_be_recharged_here(clerk, world):
    url = f"/store/members/{world.other_member.code}/wallet/recharge/"
    response = clerk.post(url, {"amount": "100", "payment_method": "cash", "recharge_id": "o1"})
    assert response.status_code == 403 and not WalletEntry.objects.exists()


def test_sale_paid_partly_from_the_card(clerk, world):
    code = world.member.code
    url = f"/store/members/{code}/wallet/recharge/"
    clerk.post(url, {"amount": "20.00", "payment_method": "cash", "recharge_id": "r1"})
    data = {"items": "TEA x2", "member": code, "sale_id": "w" * 32, "wallet_amount": "20.00", "rest_method": "card"}
    assert "Card balance: ¥20.00" in clerk.post("/store/sale/", {**data, "action": "quote"}).content.decode()
    assert clerk.post("/store/sale/", {**data, "action": "record"}).status_code == 302
    order = Order.objects.get(external_id="clerk-" + "w" * 32)
    assert [p["method"] for p in order.payments] == ["wallet", "card"]
    assert wallet_balance(member_id=world.member.pk).balance == Decimal("0.00")
    orders = Order.objects.count()
    too_much = {**data, "sale_id": "x" * 32, "action": "record"}
    response = clerk.post("/store/sale/", too_much)
    assert "does not hold enough" in response.content.decode()
    assert Order.objects.count() == orders
