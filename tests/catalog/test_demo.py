import io

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.catalog import demo
from apps.catalog.models import Category, PriceChange, Sku, Stock, StockMovement, TierPrice
from apps.catalog.selectors import price_deviations
from apps.stores import demo as stores_demo
from tests.factories import TierFactory

pytestmark = pytest.mark.django_db


def test_demo_catalog_is_realistic_and_seeding_again_changes_nothing():
    stores_demo.seed(stdout=io.StringIO())
    for rank, code in enumerate(["basic", "silver", "gold"], start=1):
        TierFactory(code=code, rank=rank)

    lines = demo.seed(stdout=io.StringIO())

    assert Sku.objects.count() >= 250 and Category.objects.filter(parent__isnull=False).count() >= 5
    assert PriceChange.objects.filter(valid_from__gt=timezone.now()).exists()  # an upcoming change
    assert TierPrice.objects.values("tier").distinct().count() == 2
    assert Stock.objects.values("store").distinct().count() >= 8
    assert price_deviations().exists()
    stock_total = Stock.objects.aggregate(n=Sum("on_hand"))["n"]
    assert stock_total == StockMovement.objects.aggregate(n=Sum("on_hand_delta"))["n"]
    assert "SKUs" in lines[0]
    counts = (PriceChange.objects.count(), StockMovement.objects.count(), TierPrice.objects.count())

    demo.seed(stdout=io.StringIO())

    assert (PriceChange.objects.count(), StockMovement.objects.count(), TierPrice.objects.count()) == counts
