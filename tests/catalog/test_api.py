from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog.models import ChannelListing, PriceChange
from apps.catalog.selectors import stores_holding_all
from apps.catalog.services import price_change_schedule, tier_price_set
from apps.stores.services import api_key_create
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, TierFactory

from .factories import SkuFactory, stock

pytestmark = pytest.mark.django_db


def _client_for(channel_code: str, kind: str) -> APIClient:
    ChannelFactory(code=channel_code, kind=kind)
    _key, raw = api_key_create(channel_code=channel_code)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_price_is_the_same_whichever_channel_asks(api):
    sku = SkuFactory(code="TEE-W-M", price="129.00")
    gold = TierFactory(code="gold")
    tier_price_set(sku=sku, tier_id=gold.pk, price="99.00")
    member = MemberFactory(code="M1", tier=gold)
    pos = _client_for("pos", "pos")

    answers = [c.get("/api/v1/skus/TEE-W-M/price", {"member": member.code}).json() for c in (api, pos)]

    assert answers[0] == answers[1]
    assert answers[0]["sku"] == "TEE-W-M"
    assert (answers[0]["list_price"], answers[0]["member_price"], answers[0]["price"]) == ("129.00", "99.00", "99.00")
    assert answers[0]["currency"] == "CNY"


def test_price_without_member_and_after_a_scheduled_change(api):
    sku = SkuFactory(code="A1", price="10.00")
    change = price_change_schedule(sku=sku, price="8.00", valid_from=timezone.now() + timedelta(seconds=1))

    body = api.get("/api/v1/skus/A1/price").json()
    assert (body["list_price"], body["member_price"], body["price"]) == ("10.00", None, "10.00")
    first = PriceChange.objects.filter(sku=sku).order_by("valid_from").first()
    assert datetime.fromisoformat(body["valid_from"]) == first.valid_from

    # the change's instant arrives: no job ran, the answer changes
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=change.valid_from + timedelta(seconds=1)):
        body = api.get("/api/v1/skus/A1/price").json()
    assert body["price"] == "8.00"


def test_price_errors_are_problem_details(api, anon_api):
    SkuFactory(code="A1", price="10.00")
    unknown = api.get("/api/v1/skus/NOPE/price")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_sku"
    assert unknown["Content-Type"] == "application/problem+json"
    no_member = api.get("/api/v1/skus/A1/price", {"member": "M404"})
    assert no_member.status_code == 404 and no_member.json()["code"] == "member_not_found"
    assert anon_api.get("/api/v1/skus/A1/price").status_code == 401


def test_price_endpoint_query_count(api, django_assert_num_queries):
    gold = TierFactory(code="gold")
    sku = SkuFactory(code="A1", price="10.00")
    tier_price_set(sku=sku, tier_id=gold.pk, price="9.00")
    MemberFactory(code="M1", tier=gold)
    api.get("/api/v1/skus/A1/price")  # the key's last_used_at is written once a minute, not per request

    # key lookup; member tier and price together
    with django_assert_num_queries(2):
        assert api.get("/api/v1/skus/A1/price", {"member": "M1"}).json()["price"] == "9.00"


def test_a_merged_member_is_priced_at_the_survivors_tier_and_an_erased_one_is_not_found(api):
    gold = TierFactory(code="gold")
    sku = SkuFactory(code="A1", price="10.00")
    tier_price_set(sku=sku, tier_id=gold.pk, price="7.00")
    survivor = MemberFactory(code="M1", tier=gold)
    MemberFactory(code="M2", tier=None, status="merged", merged_into=survivor)
    MemberFactory(code="M3", tier=gold, status="erased", phone=None)

    assert api.get("/api/v1/skus/A1/price", {"member": "M2"}).json()["price"] == "7.00"
    erased = api.get("/api/v1/skus/A1/price", {"member": "M3"})
    assert erased.status_code == 404 and erased.json()["code"] == "member_not_found"
    no_tier = MemberFactory(code="M4", tier=None)
    body = api.get("/api/v1/skus/A1/price", {"member": no_tier.code}).json()
    assert (body["member_price"], body["price"]) == (None, "10.00")


def test_availability_lists_stores_with_stock_nearest_first(api, django_assert_num_queries):
    sku = SkuFactory(code="A1")
    here = StoreFactory(code="NEAR", lat=Decimal("31.230000"), lng=Decimal("121.470000"))
    far = StoreFactory(code="FAR", lat=Decimal("30.257210"), lng=Decimal("120.164230"))
    mid = StoreFactory(code="MID", lat=Decimal("31.300000"), lng=Decimal("121.500000"))
    held = StoreFactory(code="HELD", lat=Decimal("31.231000"), lng=Decimal("121.470000"))
    closed = StoreFactory(code="CLOSED", lat=Decimal("31.230000"), lng=Decimal("121.470000"), is_active=False)
    warehouse = StoreFactory(code="WH", kind="warehouse", lat=Decimal("31.23"), lng=Decimal("121.47"))
    stock(far, sku, 5)
    stock(here, sku, 2, reserved=1)
    stock(mid, sku, 3)
    stock(held, sku, 1, reserved=1)  # nothing available
    stock(closed, sku, 9)
    stock(warehouse, sku, 9)
    api.get("/api/v1/skus/A1/availability", {"lat": 31.23, "lng": 121.47})

    with django_assert_num_queries(2):  # key; stock with stores
        body = api.get("/api/v1/skus/A1/availability", {"lat": 31.23, "lng": 121.47, "limit": 5}).json()

    assert body["sku"] == "A1"
    assert [(s["store"], s["quantity"]) for s in body["stores"]] == [("NEAR", 1), ("MID", 3), ("FAR", 5)]
    assert body["stores"][0]["distance_km"] == 0.0
    assert 120 < body["stores"][2]["distance_km"] < 180
    limited = api.get("/api/v1/skus/A1/availability", {"lat": 31.23, "lng": 121.47, "limit": 1}).json()
    assert [s["store"] for s in limited["stores"]] == ["NEAR"]


def test_availability_bad_input(api):
    SkuFactory(code="A1")
    assert api.get("/api/v1/skus/NOPE/availability", {"lat": 1, "lng": 1}).json()["code"] == "unknown_sku"
    nowhere = api.get("/api/v1/skus/A1/availability", {"lat": 1, "lng": 1})
    assert nowhere.status_code == 200 and nowhere.json() == {"sku": "A1", "stores": []}
    bad = api.get("/api/v1/skus/A1/availability", {"lat": 95, "lng": 1})
    assert bad.status_code == 400 and "lat" in bad.json()["errors"]
    assert api.get("/api/v1/skus/A1/availability").status_code == 400


def test_stores_holding_all_lines_nearest_first(django_assert_num_queries):
    a, b = SkuFactory(code="A"), SkuFactory(code="B")
    near = StoreFactory(code="NEAR", lat=Decimal("31.23"), lng=Decimal("121.47"))
    mid = StoreFactory(code="MID", lat=Decimal("31.30"), lng=Decimal("121.50"))
    far = StoreFactory(code="FAR", lat=Decimal("30.25"), lng=Decimal("120.16"))
    stock(near, a, 5)  # no B
    stock(mid, a, 2)
    stock(mid, b, 3, reserved=1)
    stock(far, a, 9)
    stock(far, b, 9)

    with django_assert_num_queries(1):
        found = stores_holding_all(lines=[(a.pk, 2), (b.pk, 2)], lat=31.23, lng=121.47)
    assert [s.code for s, _d in found] == ["MID", "FAR"]
    assert found[0][1] < found[1][1]
    assert [s.code for s, _d in stores_holding_all(lines=[(a.pk, 1), (b.pk, 3)], lat=31.23, lng=121.47)] == ["FAR"]
    assert stores_holding_all(lines=[(a.pk, 10)], lat=31.23, lng=121.47) == []


def test_channels_report_listings_and_unknown_skus_store_nothing(api):
    SkuFactory(code="A1", price="10.00")
    SkuFactory(code="B1", price="20.00")

    ok = api.post("/api/v1/channel-listings", {"listings": [{"sku": "A1", "price": "10.00"}]}, format="json")
    assert ok.status_code == 200 and ok.json() == {"received": 1}
    again = api.post(
        "/api/v1/channel-listings",
        {"listings": [{"sku": "A1", "price": "12.00"}, {"sku": "B1", "price": "20"}]},
        format="json",
    )
    assert again.json() == {"received": 2}
    assert ChannelListing.objects.get(sku__code="A1").listed_price == Decimal("12.00")

    bad = api.post("/api/v1/channel-listings", {"listings": [{"sku": "ZZ", "price": "1.00"}]}, format="json")
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_sku"
    negative = api.post("/api/v1/channel-listings", {"listings": [{"sku": "A1", "price": "-1"}]}, format="json")
    assert negative.status_code == 400
    assert ChannelListing.objects.count() == 2


def test_schema_documents_the_catalog_endpoints(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/skus/{sku}/price", "/api/v1/skus/{sku}/availability", "/api/v1/channel-listings"):
        assert path in text
