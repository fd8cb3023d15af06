import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.loyalty.models import WalletEntry
from apps.loyalty.wallet.selectors import wallet_balance, wallet_ledger_mismatches
from apps.loyalty.wallet.services import wallet_adjust, wallet_recharge
from apps.orders.models import Order

from .conftest import on_hand

D = Decimal


def body(**extra):
    data = {
        "external_id": "W1",
        "store": "S001",
        "member": {"code": "M1"},
        "lines": [{"sku": "TEA", "quantity": 2}, {"sku": "CUP", "quantity": 1}],  # 72.50
    }
    data.update(extra)
    return data


def charge(member, amount, key="R1"):
    return wallet_recharge(member=member, amount=amount, payment_method="cash", idempotency_key=key)


def balance(member) -> Decimal:
    return wallet_balance(member_id=member.pk).balance


def test_split_payment_takes_the_wallet_share_and_is_echoed(api, store, skus, member):
    charge(member, "50.00")
    payments = [{"method": "wallet", "amount": "50.00"}, {"method": "wechat_pay", "amount": "22.50"}]
    response = api.post("/api/v1/orders", body(payments=payments), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["payments"] == payments
    assert balance(member) == D("0.00")
    entry = WalletEntry.objects.get(kind="payment")
    assert (entry.amount, entry.reference) == (D("-50.00"), f"order:{response.json()['number']}")
    again = api.post("/api/v1/orders", body(payments=payments), format="json")
    assert again.status_code == 200 and again.json()["payments"] == payments
    assert balance(member) == D("0.00") and WalletEntry.objects.filter(kind="payment").count() == 1
    assert api.get(f"/api/v1/orders/{response.json()['number']}").json()["payments"] == payments


def test_an_ordinary_order_echoes_one_payment_by_its_method(api, store, skus, member):
    response = api.post("/api/v1/orders", body(payment_method="card"), format="json")
    assert response.json()["payments"] == [{"method": "card", "amount": "72.50"}]


@pytest.mark.parametrize(
    ("payments", "status", "code"),
    [
        ([{"method": "wallet", "amount": "72.50"}], 422, "insufficient_balance"),
        ([{"method": "wallet", "amount": "10.00"}, {"method": "cash", "amount": "60.00"}], 422, "payments_mismatch"),
        ([{"method": "wallet", "amount": "80.00"}], 422, "payments_mismatch"),  # more than the order
        ([{"method": "wallet", "amount": "-1.00"}, {"method": "cash", "amount": "73.50"}], 400, "validation_error"),
        ([{"method": "cheque", "amount": "72.50"}], 400, "validation_error"),
    ],
)
def test_refused_payments_book_nothing(api, store, skus, member, payments, status, code):
    charge(member, "20.00")
    response = api.post("/api/v1/orders", body(payments=payments), format="json")
    assert response.status_code == status and response.json()["code"] == code, response.json()
    assert Order.objects.count() == 0 and on_hand(store, skus[0]) == (10, 0)
    assert balance(member) == D("20.00") and WalletEntry.objects.count() == 1
    member.refresh_from_db()
    assert member.points_balance == 0


def test_wallet_payment_needs_a_member(api, store, skus, member):
    charge(member, "100.00")
    response = api.post(
        "/api/v1/orders", body(member=None, payments=[{"method": "wallet", "amount": "72.50"}]), format="json"
    )
    assert response.status_code == 422 and response.json()["code"] == "wallet_needs_member"
    assert Order.objects.count() == 0 and balance(member) == D("100.00")


def test_a_failed_wallet_write_leaves_no_order(api, store, skus, member):
    """The wallet write fails after the order, its stock and points were written: all of it rolls back."""
    from django.db import IntegrityError

    with connection.cursor() as cursor:  # the database refuses payment entries from now on (this test only)
        cursor.execute("ALTER TABLE loyalty_walletentry ADD CONSTRAINT test_crash CHECK (kind <> 'payment') NOT VALID")
    charge(member, "100.00")
    with pytest.raises(IntegrityError, match="test_crash"):
        api.post("/api/v1/orders", body(payments=[{"method": "wallet", "amount": "72.50"}]), format="json")
    assert Order.objects.count() == 0 and on_hand(store, skus[0]) == (10, 0)
    assert balance(member) == D("100.00") and WalletEntry.objects.filter(kind="payment").count() == 0
    member.refresh_from_db()
    assert member.points_balance == 0


def test_refund_returns_the_wallets_proportional_share(api, store, skus, member):
    charge(member, "40.00")
    wallet_adjust(member=member, bonus="10.00", reason="goodwill", user=None, idempotency_key="A1")
    payments = [{"method": "wallet", "amount": "50.00"}, {"method": "cash", "amount": "22.50"}]
    number = api.post("/api/v1/orders", body(payments=payments), format="json").json()["number"]
    assert balance(member) == D("0.00")
    # refund one TEA (30.00 of 72.50): the wallet gets 30 * 50 / 72.5 = 20.69 back, 40:10 principal:bonus
    response = api.post(
        f"/api/v1/orders/{number}/refunds",
        {"external_id": "X1", "lines": [{"sku": "TEA", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["payments"] == [
        {"method": "wallet", "amount": "20.69"},
        {"method": "cash", "amount": "9.31"},
    ]
    back = WalletEntry.objects.get(kind="refund")
    assert (back.principal, back.bonus) == (D("16.55"), D("4.14"))
    rest = api.post(
        f"/api/v1/orders/{number}/refunds",
        {"external_id": "X2", "lines": [{"sku": "TEA", "quantity": 1}, {"sku": "CUP", "quantity": 1}]},
        format="json",
    )
    assert rest.status_code == 201
    assert wallet_balance(member_id=member.pk) == wallet_balance(member_id=member.pk).__class__(D("40"), D("10"))
    too_much = api.post(
        f"/api/v1/orders/{number}/refunds",
        {"external_id": "X3", "lines": [{"sku": "CUP", "quantity": 1}]},
        format="json",
    )
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_order"
    assert balance(member) == D("50.00") and wallet_ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_wallet_payments_never_overdraw(api, store, skus, member):
    """The card holds 10 payments' worth: exactly 10 of 100 simultaneous orders succeed, the rest are refused."""
    from apps.catalog.models import Stock

    Stock.objects.filter(store=store).update(on_hand=1000)
    charge(member, "125.00")  # ten orders of one CUP (12.50)
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def post(batch):
        try:
            barrier.wait()
            for i in batch:
                response = api.post(
                    "/api/v1/orders",
                    body(
                        external_id=f"C{i}",
                        lines=[{"sku": "CUP", "quantity": 1}],
                        payments=[{"method": "wallet", "amount": "12.50"}],
                    ),
                    format="json",
                )
                with lock:
                    results.append(response.status_code)
        finally:
            connection.close()

    # 20 connections (the machine's database is shared) each firing 5 orders as fast as they can.
    threads = [threading.Thread(target=post, args=(range(k, 100, 20),)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] * 10 + [422] * 90
    assert balance(member) == D("0.00") and Order.objects.count() == 10
    assert WalletEntry.objects.filter(kind="payment").count() == 10
    assert wallet_ledger_mismatches() == []
