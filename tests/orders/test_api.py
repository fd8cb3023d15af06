import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.catalog.models import StockMovement
from apps.loyalty.models import Coupon, PointsEntry
from apps.loyalty.services import coupon_issue
from apps.members.models import Member
from apps.orders.models import Order, OrderLine, Refund
from apps.orders.services import order_fulfil
from tests.catalog.factories import SkuFactory, stock
from tests.loyalty.factories import CouponTemplateFactory

from .conftest import on_hand


def body(**extra):
    data = {
        "external_id": "E1",
        "store": "S001",
        "member": {"code": "M1"},
        "lines": [
            {"sku": "TEA", "quantity": 2, "unit_price": "30.00"},
            {"sku": "CUP", "quantity": 1},
            {"sku": "POT", "quantity": 1},
        ],
    }
    data.update(extra)
    return data


def snapshot(store, skus):
    return (
        Order.objects.count(),
        [on_hand(store, s) for s in skus],
        PointsEntry.objects.count(),
        list(Member.objects.values_list("points_balance", flat=True).order_by("pk")),
    )


def test_member_order_priced_points_stock_and_idempotent(api, store, skus, member):
    response = api.post("/api/v1/orders", body(), format="json")
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["total"] == "171.50" and order["subtotal"] == "171.50" and order["discount_total"] == "0.00"
    assert order["member"] == "M1" and order["store"] == "S001" and order["channel"] == "mall"
    assert order["points_earned"] == 171
    assert [line["sku"] for line in order["lines"]] == ["TEA", "CUP", "POT"]
    assert order["lines"][0] == {
        "sku": "TEA",
        "quantity": 2,
        "unit_price": "30.00",
        "discount": "0.00",
        "total": "60.00",
    }
    assert order["fulfilment"] == {"type": "in_store", "store": "S001"}
    assert on_hand(store, skus[0]) == (8, 0)
    member.refresh_from_db()
    assert member.points_balance == 171

    again = api.post("/api/v1/orders", body(), format="json")
    assert again.status_code == 200
    assert again.json()["number"] == order["number"]
    member.refresh_from_db()
    assert member.points_balance == 171 and on_hand(store, skus[0]) == (8, 0)
    assert api.get(f"/api/v1/orders/{order['number']}").json() == order


def test_same_external_id_with_other_body_is_refused(api, store, skus, member):
    assert api.post("/api/v1/orders", body(), format="json").status_code == 201
    before = snapshot(store, skus)
    response = api.post("/api/v1/orders", body(lines=[{"sku": "TEA", "quantity": 1}]), format="json")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"
    assert snapshot(store, skus) == before


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, 422, "unknown_sku"),
        ({"lines": [{"sku": "TEA", "quantity": 0}]}, 400, "validation_error"),
        ({"lines": [{"sku": "TEA", "quantity": -2}]}, 400, "validation_error"),
        ({"member": {"code": "M404"}}, 422, "member_not_found"),
        ({"lines": [{"sku": "TEA", "quantity": 1, "unit_price": "29.00"}]}, 422, "price_mismatch"),
        ({"lines": [{"sku": "TEA", "quantity": 11}]}, 409, "out_of_stock"),
        ({"lines": [{"sku": "TEA", "quantity": 2}, {"sku": "POT", "quantity": 11}]}, 409, "out_of_stock"),
        ({"coupon_codes": ["NOSUCH"]}, 422, "coupon_not_found"),
        ({"store": "S999"}, 422, "unknown_store"),
    ],
)
def test_bad_input_changes_nothing(api, store, skus, member, change, status, code):
    before = snapshot(store, skus)
    moves = StockMovement.objects.count()
    response = api.post("/api/v1/orders", body(**change), format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert snapshot(store, skus) == before and StockMovement.objects.count() == moves
    assert not Order.objects.exists() and not OrderLine.objects.exists()


def test_coupon_discount_spread_over_lines_and_redeemed_once(api, store, skus, member):
    coupon = coupon_issue(template=CouponTemplateFactory(value=Decimal("10.00")), member=member)
    response = api.post("/api/v1/orders", body(coupon_codes=[coupon.code]), format="json")
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["discount_total"] == "10.00" and order["total"] == "161.50"
    assert sum(Decimal(line["discount"]) for line in order["lines"]) == Decimal("10.00")
    assert sum(Decimal(line["total"]) for line in order["lines"]) == Decimal("161.50")
    assert order["coupons_applied"] == [coupon.code] and order["points_earned"] == 161
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REDEEMED and coupon.redeemed_order == order["number"]

    second = api.post("/api/v1/orders", body(external_id="E2", coupon_codes=[coupon.code]), format="json")
    assert second.status_code == 409 and second.json()["code"] == "coupon_already_redeemed"
    assert "already been used" in second.json()["detail"]


def test_tier_price_is_charged_to_the_member(api, store, skus, member):
    from apps.catalog.services import tier_price_set

    tier_price_set(sku=skus[0], tier_id=member.tier_id, price=Decimal("25.00"))
    response = api.post(
        "/api/v1/orders", body(lines=[{"sku": "TEA", "quantity": 2, "unit_price": "25.00"}]), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "50.00"
    anon = api.post(
        "/api/v1/orders", body(external_id="E2", member=None, lines=[{"sku": "TEA", "quantity": 1}]), format="json"
    )
    assert anon.json()["total"] == "30.00" and anon.json()["points_earned"] == 0


def test_spend_upgrades_the_tier_at_once(api, store, skus, member, tiers):
    stock(store, SkuFactory(code="TV", price="1200.00"), 2)
    response = api.post("/api/v1/orders", body(lines=[{"sku": "TV", "quantity": 1}]), format="json")
    assert response.status_code == 201
    assert response.json()["points_earned"] == 1200  # earned at the tier held when buying
    member.refresh_from_db()
    assert member.tier == tiers[1]


def test_delivery_routes_to_nearest_store_holding_every_line(api, store, far_store, skus, member):
    for sku in skus:
        stock(far_store, sku, 5)
    data = body(store=None, fulfilment="delivery", delivery={"lat": 39.91, "lng": 116.41, "address": "Beijing"})
    response = api.post("/api/v1/orders", data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["fulfilment"]["store"] == "S002" and response.json()["status"] == "placed"
    assert on_hand(far_store, skus[0]) == (5, 2) and on_hand(store, skus[0]) == (10, 0)

    too_many = body(external_id="E2", store=None, fulfilment="delivery", delivery={"lat": 39.9, "lng": 116.4},
                    lines=[{"sku": "TEA", "quantity": 11}])  # fmt: skip
    refused = api.post("/api/v1/orders", too_many, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "out_of_stock"


def test_pickup_reserves_until_picked_up(api, store, skus, member):
    response = api.post("/api/v1/orders", body(fulfilment="pickup"), format="json")
    assert on_hand(store, skus[0]) == (10, 2)
    order_fulfil(order=Order.objects.get(number=response.json()["number"]))
    assert on_hand(store, skus[0]) == (8, 0)


def test_voucher_verified_once(api, store, skus, member):
    response = api.post("/api/v1/orders", body(fulfilment="voucher", store=None), format="json")
    assert response.status_code == 201, response.json()
    number, code = response.json()["number"], response.json()["fulfilment"]["verification_code"]
    assert len(code) == 12 and on_hand(store, skus[0]) == (10, 0)
    wrong = api.post(
        f"/api/v1/orders/{number}/verify", {"verification_code": "000000000000", "store": "S001"}, format="json"
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_verification_code"
    ok = api.post(f"/api/v1/orders/{number}/verify", {"verification_code": code, "store": "S001"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "completed"
    assert on_hand(store, skus[0]) == (8, 0)
    again = api.post(f"/api/v1/orders/{number}/verify", {"verification_code": code, "store": "S001"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_verified"
    assert on_hand(store, skus[0]) == (8, 0)


def test_partial_then_full_refund(api, store, skus, member):
    coupon = coupon_issue(template=CouponTemplateFactory(value=Decimal("10.00")), member=member)
    order = api.post("/api/v1/orders", body(coupon_codes=[coupon.code]), format="json").json()
    url = f"/api/v1/orders/{order['number']}/refunds"

    first = api.post(url, {"external_id": "R1", "lines": [{"sku": "TEA", "quantity": 1}]}, format="json")
    assert first.status_code == 201, first.json()
    tea_total = Decimal(order["lines"][0]["total"])
    assert Decimal(first.json()["refund_total"]) == (tea_total / 2).quantize(Decimal("0.01"))
    assert on_hand(store, skus[0]) == (9, 0)
    repeat = api.post(url, {"external_id": "R1", "lines": [{"sku": "TEA", "quantity": 1}]}, format="json")
    assert repeat.status_code == 200 and repeat.json() == first.json()
    assert on_hand(store, skus[0]) == (9, 0)

    too_much = api.post(url, {"external_id": "R2", "lines": [{"sku": "TEA", "quantity": 2}]}, format="json")
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_order"
    assert Refund.objects.count() == 1

    rest = [{"sku": "TEA", "quantity": 1}, {"sku": "CUP", "quantity": 1}, {"sku": "POT", "quantity": 1}]
    second = api.post(url, {"external_id": "R3", "lines": rest}, format="json")
    assert second.status_code == 201
    assert Decimal(first.json()["refund_total"]) + Decimal(second.json()["refund_total"]) == Decimal(order["total"])
    assert first.json()["points_reversed"] + second.json()["points_reversed"] == order["points_earned"]
    member.refresh_from_db()
    assert member.points_balance == 0
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED  # fully refunded: the coupon is given back
    assert api.get(f"/api/v1/orders/{order['number']}").json()["status"] == "refunded"


def test_refund_shortfall_is_recorded(api, store, skus, member):
    from apps.loyalty.services import points_redeem

    order = api.post("/api/v1/orders", body(), format="json").json()
    points_redeem(member_id=member.pk, points=100, reference="mall", idempotency_key="spend")
    url = f"/api/v1/orders/{order['number']}/refunds"
    lines = [{"sku": "TEA", "quantity": 2}, {"sku": "CUP", "quantity": 1}, {"sku": "POT", "quantity": 1}]
    refund = api.post(url, {"external_id": "R1", "lines": lines}, format="json").json()
    assert refund["points_reversed"] == 71 and refund["points_shortfall"] == 100


def test_online_member_order_credits_recruiting_store_and_guide(api, store, far_store, skus, member, guide):
    for sku in skus:
        stock(far_store, sku, 5)
    api.post("/api/v1/orders", body(store="S002", fulfilment="pickup"), format="json")
    order = Order.objects.get()
    assert order.is_online and order.credited_store == store and order.credited_guide == guide


def test_other_channel_cannot_read_the_order(api, anon_api, store, skus, member):
    from apps.stores.services import api_key_create
    from tests.factories import ChannelFactory

    number = api.post("/api/v1/orders", body(), format="json").json()["number"]
    ChannelFactory(code="pos", kind="pos")
    _key, raw = api_key_create(channel_code="pos")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert anon_api.get(f"/api/v1/orders/{number}").status_code == 404


def test_order_creation_query_count(api, store, skus, member, django_assert_num_queries):
    api.post("/api/v1/orders", body(external_id="warm"), format="json")
    # key check, (idempotency check + store + member with tier + the lines' prices in one); BEGIN, order and
    # lines (one statement), stock (rows + movements in one statement), member lock, points (key, lot, balance,
    # entry in one), spend (day, 12-month sum, tier in one), COMMIT; no savepoints
    with django_assert_num_queries(9):
        assert api.post("/api/v1/orders", body(), format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_identical_parallel_posts_make_one_order(api, store, skus, member):
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(6)

    def post():
        try:
            barrier.wait()
            response = api.post("/api/v1/orders", body(), format="json")
            results.append((response.status_code, response.json().get("number")))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _n in results) == [200, 200, 200, 200, 200, 201]
    assert len({n for _s, n in results}) == 1
    assert Order.objects.count() == 1
    assert on_hand(store, skus[0]) == (8, 0)
    member.refresh_from_db()
    assert member.points_balance == 171


def test_out_of_stock_names_only_the_short_lines(api, store, skus, member):
    lines = [{"sku": "TEA", "quantity": 11}, {"sku": "CUP", "quantity": 1}, {"sku": "POT", "quantity": 12}]
    moves = StockMovement.objects.count()
    response = api.post("/api/v1/orders", body(lines=lines), format="json")
    assert response.status_code == 409 and response.json()["code"] == "out_of_stock"
    assert response.json()["detail"] == "TEA: available 10, wanted 11; POT: available 10, wanted 12"
    assert [on_hand(store, s) for s in skus] == [(10, 0)] * 3 and StockMovement.objects.count() == moves


@pytest.mark.django_db(transaction=True)
def test_parallel_orders_never_oversell_and_points_match_the_ledger(api, store, skus, member):
    from apps.loyalty.points import ledger_mismatches

    results: list[int] = []
    barrier = threading.Barrier(7)

    def post(i):
        try:
            barrier.wait()
            lines = [{"sku": "POT", "quantity": 1}, {"sku": "TEA", "quantity": 2}]  # sorted by lock order inside
            response = api.post("/api/v1/orders", body(external_id=f"P{i}", lines=lines), format="json")
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] * 5 + [409] * 2
    assert on_hand(store, skus[0]) == (0, 0) and on_hand(store, skus[2]) == (5, 0)
    assert StockMovement.objects.filter(kind="sale").count() == 10
    member.refresh_from_db()
    assert member.points_balance == 5 * 159 == PointsEntry.objects.filter(member=member).count() * 159
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"member": None, "guide": "G01", "payment_method": "card"},
        {"fulfilment": "voucher", "store": None},
        {"fulfilment": "pickup", "paid": False},
        {"store": None, "fulfilment": "delivery", "delivery": {"lat": 31.2, "lng": 121.4, "address": "Shanghai"}},
    ],
)
def test_created_body_is_what_the_serializer_renders(api, store, skus, member, guide, change):
    from apps.orders.api import OrderOutputSerializer, order_body
    from apps.orders.selectors import order_get_by_number

    created = api.post("/api/v1/orders", body(**change), format="json")
    assert created.status_code == 201, created.json()
    number = created.json()["number"]
    assert created.json() == api.get(f"/api/v1/orders/{number}").json()
    order = order_get_by_number(number=number)
    assert order_body(order) == OrderOutputSerializer(order).data


def test_member_by_phone_merged_member_and_inactive_store(api, store, skus, member, tiers):
    from tests.factories import MemberFactory, StoreFactory

    by_phone = api.post("/api/v1/orders", body(member={"phone": "13800138000"}), format="json")
    assert by_phone.status_code == 201 and by_phone.json()["member"] == "M1"

    survivor = MemberFactory(code="M2", tier=tiers[1])
    Member.objects.filter(pk=member.pk).update(status="merged", merged_into=survivor)
    merged = api.post("/api/v1/orders", body(external_id="E2", member={"code": " M1 "}), format="json")
    assert merged.status_code == 201 and merged.json()["member"] == "M2"
    assert merged.json()["points_earned"] == int(Decimal(merged.json()["total"]) * 2)  # the survivor's tier

    Member.objects.filter(pk=member.pk).update(status="erased", merged_into=None)
    erased = api.post("/api/v1/orders", body(external_id="E3", member={"code": "M1"}), format="json")
    assert erased.status_code == 422 and erased.json()["code"] == "member_not_found"
    blank = api.post("/api/v1/orders", body(external_id="E4", member={"code": " "}), format="json")
    assert blank.status_code in (400, 422)

    StoreFactory(code="S009", is_active=False)
    closed = api.post("/api/v1/orders", body(external_id="E5", store="S009", member=None), format="json")
    assert closed.status_code == 422 and closed.json()["code"] == "unknown_store"


def test_merging_a_member_moves_their_orders_to_the_survivor(api, store, skus, member, tiers):
    from apps.members.models import MemberMerge
    from apps.members.services import member_merge
    from tests.factories import MemberFactory

    assert api.post("/api/v1/orders", body(), format="json").status_code == 201
    survivor = MemberFactory(code="M2", tier=tiers[0])

    member_merge(survivor=survivor, merged=member)

    assert list(Order.objects.values_list("member_id", flat=True)) == [survivor.pk]
    assert MemberMerge.objects.get().summary["orders"] == 1
