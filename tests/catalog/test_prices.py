from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.catalog.errors import InvalidPrice, PriceChangeInPast, PriceHistoryLocked, UnknownSku
from apps.catalog.models import PriceChange
from apps.catalog.selectors import sku_prices
from apps.catalog.services import (
    price_change_cancel,
    price_change_schedule,
    price_change_update,
    tier_price_set,
)
from tests.factories import TierFactory

from .factories import SkuFactory

pytestmark = pytest.mark.django_db


def test_price_is_the_list_price_without_a_member():
    sku = SkuFactory(code="A1", price="199.00")

    prices = sku_prices(skus=["A1"])

    p = prices["A1"]
    assert (p.sku_id, p.product_id, p.category_id) == (sku.pk, sku.product_id, sku.product.category_id)
    assert (p.list_price, p.member_price, p.price) == (Decimal("199.00"), None, Decimal("199.00"))


def test_a_scheduled_change_takes_effect_at_its_instant_without_any_job():
    sku = SkuFactory(code="A1", price="199.00")
    start = timezone.now() + timedelta(days=2)
    change = price_change_schedule(sku=sku, price="149.00", valid_from=start)

    assert sku_prices(skus=["A1"])["A1"].price == Decimal("199.00")
    assert sku_prices(skus=["A1"], at=start - timedelta(microseconds=1))["A1"].price == Decimal("199.00")
    at_start = sku_prices(skus=["A1"], at=start)["A1"]
    assert (at_start.price, at_start.valid_from) == (Decimal("149.00"), change.valid_from)
    # history stays: both entries are there
    assert list(PriceChange.objects.filter(sku__code="A1").values_list("price", flat=True)) == [
        Decimal("149.00"),
        Decimal("199.00"),
    ]


def test_member_pays_the_tier_price_when_lower_and_the_list_price_otherwise():
    gold, silver, basic = TierFactory(code="gold"), TierFactory(code="silver"), TierFactory(code="basic")
    a, b = SkuFactory(code="A1", price="100.00"), SkuFactory(code="B1", price="50.00")
    tier_price_set(sku=a, tier_id=gold.pk, price="80.00")
    tier_price_set(sku=b, tier_id=gold.pk, price="60.00")  # above list: the list price applies
    silver.discount_percent = Decimal("5")
    silver.save()

    gold_prices = sku_prices(skus=["A1", "B1"], tier_id=gold.pk)
    silver_prices = sku_prices(skus=["A1", "B1"], tier_id=silver.pk)
    basic_prices = sku_prices(skus=["A1"], tier_id=basic.pk)

    assert (gold_prices["A1"].member_price, gold_prices["A1"].price) == (Decimal("80.00"), Decimal("80.00"))
    assert (gold_prices["B1"].member_price, gold_prices["B1"].price) == (Decimal("60.00"), Decimal("50.00"))
    # no explicit member price: the tier's discount applies to the list price
    assert silver_prices["A1"].price == Decimal("95.00") and silver_prices["B1"].price == Decimal("47.50")
    assert (basic_prices["A1"].member_price, basic_prices["A1"].price) == (None, Decimal("100.00"))


def test_prices_of_many_skus_take_one_query(django_assert_num_queries):
    tier = TierFactory(code="gold")
    codes = [SkuFactory().code for _ in range(12)]
    with django_assert_num_queries(1):
        prices = sku_prices(skus=codes, tier_id=tier.pk)
    assert set(prices) == set(codes)


def test_unknown_inactive_and_unpriced_skus_are_named():
    SkuFactory(code="OK", price="10.00")
    SkuFactory(code="OFF", price="10.00", is_active=False)
    SkuFactory(code="LATER", price=False)

    with pytest.raises(UnknownSku) as caught:
        sku_prices(skus=["OK", "NOPE", "OFF", "LATER"])

    assert caught.value.codes == ["LATER", "NOPE", "OFF"]
    assert caught.value.code == "unknown_sku" and caught.value.status == 422


def test_a_price_change_in_the_past_is_refused():
    sku = SkuFactory(code="A1", price="10.00")
    with pytest.raises(PriceChangeInPast):
        price_change_schedule(sku=sku, price="9.00", valid_from=timezone.now() - timedelta(minutes=1))
    assert PriceChange.objects.filter(sku=sku).count() == 1


@pytest.mark.parametrize("bad", ["-1.00", "1.234", "abc", "NaN"])
def test_malformed_prices_are_refused(bad):
    sku = SkuFactory(code="A1", price="10.00")
    with pytest.raises(InvalidPrice):
        price_change_schedule(sku=sku, price=bad, valid_from=timezone.now() + timedelta(days=1))
    assert PriceChange.objects.filter(sku=sku).count() == 1


def test_upcoming_changes_can_be_edited_or_cancelled_but_history_cannot():
    sku = SkuFactory(code="A1", price="10.00")
    past = PriceChange.objects.get(sku=sku)
    upcoming = price_change_schedule(sku=sku, price="9.00", valid_from=timezone.now() + timedelta(days=1))

    later = timezone.now() + timedelta(days=3)
    price_change_update(change=upcoming, price="8.50", valid_from=later)
    upcoming.refresh_from_db()
    assert (upcoming.price, upcoming.valid_from) == (Decimal("8.50"), later)

    with pytest.raises(PriceHistoryLocked):
        price_change_update(change=past, price="1.00", valid_from=timezone.now() + timedelta(days=1))
    with pytest.raises(PriceHistoryLocked):
        price_change_cancel(change=past)
    price_change_cancel(change=upcoming)
    assert list(PriceChange.objects.filter(sku=sku)) == [past]


def test_the_database_refuses_to_rewrite_or_delete_history_whoever_tries():
    sku = SkuFactory(code="A1", price="10.00")
    past = PriceChange.objects.get(sku=sku)

    with pytest.raises(IntegrityError), transaction.atomic():
        PriceChange.objects.filter(pk=past.pk).update(price=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceChange.objects.filter(pk=past.pk).delete()
    past.refresh_from_db()
    assert past.price == Decimal("10.00")
