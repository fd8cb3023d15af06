"""Inputs that used to end in a 500 on the order API: each now gets a clear answer and changes nothing."""

from decimal import Decimal

import pytest

from apps.orders.models import Order
from tests.catalog.factories import SkuFactory, stock

pytestmark = pytest.mark.django_db

VOUCHER = {
    "external_id": "V1",
    "member": {"code": "M1"},
    "fulfilment": "voucher",
    "lines": [{"sku": "TEA", "quantity": 1}],
}


def test_a_voucher_code_typed_in_full_width_digits_with_spaces_verifies(api, store, skus, member):
    order = api.post(
        "/api/v1/orders",
        {
            "external_id": "V1",
            "member": {"code": "M1"},
            "fulfilment": "voucher",
            "lines": [{"sku": "TEA", "quantity": 1}],
        },
        format="json",
    ).json()
    code = order["fulfilment"]["verification_code"]
    # What a Chinese input method types: full-width digits, and an ideographic space in the middle.
    typed = "".join(chr(ord(c) + 0xFEE0) for c in code[:6]) + "\u3000" + "".join(chr(ord(c) + 0xFEE0) for c in code[6:])

    response = api.post(
        f"/api/v1/orders/{order['number']}/verify", {"verification_code": typed, "store": "S001"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"


def test_a_non_ascii_wrong_voucher_code_is_just_wrong(api, store, skus, member):
    order = api.post(
        "/api/v1/orders",
        {
            "external_id": "V1",
            "member": {"code": "M1"},
            "fulfilment": "voucher",
            "lines": [{"sku": "TEA", "quantity": 1}],
        },
        format="json",
    ).json()
    response = api.post(
        f"/api/v1/orders/{order['number']}/verify", {"verification_code": "验证码", "store": "S001"}, format="json"
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_verification_code"


def test_an_order_too_large_to_book_is_refused_before_anything_is_written(api, store, member):
    sku = SkuFactory(code="GOLDBAR", price="9000000.00")
    stock(store, sku, 100000)
    lines = [{"sku": "GOLDBAR", "quantity": 9999}] * 3

    response = api.post("/api/v1/orders", {"external_id": "BIG", "store": "S001", "lines": lines}, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "lines" in response.json()["errors"]
    assert not Order.objects.exists()


def test_quantities_are_bounded(api, store, skus):
    response = api.post(
        "/api/v1/orders",
        {"external_id": "Q", "store": "S001", "lines": [{"sku": "TEA", "quantity": 10000}]},
        format="json",
    )
    assert response.status_code == 400 and "lines" in response.json()["errors"]
    price = {"external_id": "Q", "store": "S001", "lines": [{"sku": "TEA", "quantity": 1, "unit_price": "1e11"}]}
    assert api.post("/api/v1/orders", price, format="json").status_code == 400
    assert Decimal(0) == sum((o.total for o in Order.objects.all()), Decimal(0))
