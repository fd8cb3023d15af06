"""Order rules that edges used to get around: precise coupon refusals, store-bound vouchers, lock order."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from apps.loyalty.models import Coupon
from apps.loyalty.services import coupon_issue
from apps.orders.models import Order
from tests.factories import MemberFactory
from tests.loyalty.factories import CouponTemplateFactory

from .conftest import on_hand


def _order(**extra):
    data = {"external_id": "E1", "store": "S001", "member": {"code": "M1"}, "lines": [{"sku": "TEA", "quantity": 1}]}
    data.update(extra)
    return data


def test_another_members_coupon_is_refused_with_its_precise_code(api, store, skus, member, tiers):
    someone_else = MemberFactory(code="M2", phone="+8613900139000", tier=tiers[0])
    theirs = coupon_issue(template=CouponTemplateFactory(value=Decimal("5.00")), member=someone_else)

    response = api.post("/api/v1/orders", _order(coupon_codes=[theirs.code]), format="json")

    assert response.status_code == 422 and response.json()["code"] == "coupon_not_yours"
    assert not Order.objects.exists() and on_hand(store, skus[0]) == (10, 0)
    theirs.refresh_from_db()
    assert theirs.status == Coupon.Status.ISSUED


def test_a_coupon_below_its_minimum_spend_is_refused_with_its_precise_code(api, store, skus, member):
    fifty_off_500 = coupon_issue(
        template=CouponTemplateFactory(value=Decimal("50.00"), min_spend=Decimal("500.00")), member=member
    )

    response = api.post("/api/v1/orders", _order(coupon_codes=[fifty_off_500.code]), format="json")

    assert response.status_code == 422 and response.json()["code"] == "coupon_min_spend"
    assert "500.00" in response.json()["detail"]
    assert not Order.objects.exists()


def test_a_used_coupon_is_refused_as_already_redeemed(api, store, skus, member):
    coupon = coupon_issue(template=CouponTemplateFactory(value=Decimal("5.00")), member=member)
    assert api.post("/api/v1/orders", _order(coupon_codes=[coupon.code]), format="json").status_code == 201

    again = api.post("/api/v1/orders", _order(external_id="E2", coupon_codes=[coupon.code]), format="json")

    assert again.status_code == 409 and again.json()["code"] == "coupon_already_redeemed"


def test_a_store_bound_voucher_is_refused_at_another_store(api, store, far_store, skus, member):
    response = api.post("/api/v1/orders", _order(fulfilment="voucher"), format="json")
    assert response.status_code == 201, response.json()
    number, code = response.json()["number"], response.json()["fulfilment"]["verification_code"]

    elsewhere = api.post(f"/api/v1/orders/{number}/verify", {"verification_code": code, "store": "S002"}, format="json")

    assert elsewhere.status_code == 422 and elsewhere.json()["code"] == "voucher_wrong_store"
    assert Order.objects.get(number=number).verified_at is None and on_hand(store, skus[0]) == (10, 0)
    here = api.post(f"/api/v1/orders/{number}/verify", {"verification_code": code, "store": "S001"}, format="json")
    assert here.status_code == 200 and on_hand(store, skus[0]) == (9, 0)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # pg_locks is read live (pg_stat_activity is a snapshot for the rest of the transaction).
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid IN "
            "(SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_orders_sharing_stackable_coupons_never_deadlock(api, store, skus, round_):
    """Two orders list the same two stackable coupons in opposite orders. Both are held back by a third
    transaction until both wait on the coupons, then released at once: one order gets them, the other is
    told they are used; locking them in request order deadlocked instead."""
    template = CouponTemplateFactory(code="stack", value=Decimal("1.00"), is_stackable=True, per_member_limit=None)
    first, second = coupon_issue(template=template, member=None), coupon_issue(template=template, member=None)
    bodies = [
        _order(external_id="A", coupon_codes=[first.code, second.code]),
        _order(external_id="B", lines=[{"sku": "CUP", "quantity": 1}], coupon_codes=[second.code, first.code]),
    ]
    for data in bodies:
        del data["member"]
    outcomes: list[tuple[int, str]] = []

    def post(data):
        try:
            response = api.post("/api/v1/orders", data, format="json")
            outcomes.append((response.status_code, response.json().get("code", "created")))
        except DatabaseError as exc:  # a deadlock surfaces as a database error, not an answer
            outcomes.append((500, type(exc).__name__ + ": " + str(exc).splitlines()[0]))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(data,)) for data in bodies]
    with transaction.atomic():
        list(Coupon.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("-pk"))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_locks() == 2, outcomes
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [(201, "created"), (409, "coupon_already_redeemed")]
    assert Order.objects.count() == 1
    assert set(Coupon.objects.values_list("redeemed_order", flat=True)) == {Order.objects.get().number}


def test_order_services_open_the_outermost_transaction(channel, store, skus, member):
    """order_create commits on its own: wrapping it in another transaction is a programming error that
    would let a caller's rollback undo a sale the customer was told about."""
    from apps.orders.services import order_create

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        order_create(channel=channel, external_id="E9", store="S001", lines=[{"sku": "TEA", "quantity": 1}])
    _order, created = order_create(
        channel=channel, external_id="E9", store="S001", lines=[{"sku": "TEA", "quantity": 1}]
    )
    assert created and on_hand(store, skus[0]) == (9, 0)
