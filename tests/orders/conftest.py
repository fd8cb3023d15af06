from decimal import Decimal

import pytest

from apps.catalog.models import Stock
from tests.catalog.factories import SkuFactory, stock
from tests.factories import MemberFactory, StaffFactory, StoreFactory, TierFactory


@pytest.fixture
def store(db):
    return StoreFactory(code="S001", lat=Decimal("31.230000"), lng=Decimal("121.470000"))


@pytest.fixture
def far_store(db):
    return StoreFactory(code="S002", lat=Decimal("39.900000"), lng=Decimal("116.400000"))


@pytest.fixture
def skus(store):
    a, b, c = (
        SkuFactory(code="TEA", price="30.00"),
        SkuFactory(code="CUP", price="12.50"),
        SkuFactory(code="POT", price="99.00"),
    )
    for sku in (a, b, c):
        stock(store, sku, 10)
    return a, b, c


@pytest.fixture
def tiers(db):
    silver = TierFactory(code="silver", rank=1, min_annual_spend=Decimal("0"), points_per_yuan=Decimal("1.00"))
    gold = TierFactory(code="gold", rank=2, min_annual_spend=Decimal("1000"), points_per_yuan=Decimal("2.00"))
    return silver, gold


@pytest.fixture
def guide(store):
    return StaffFactory(code="G01", role="guide")


@pytest.fixture
def member(tiers, store, guide):
    return MemberFactory(code="M1", phone="+8613800138000", tier=tiers[0], join_store=store, recruited_by=guide)


def on_hand(store, sku) -> tuple[int, int]:
    row = Stock.objects.get(store=store, sku=sku)
    return row.on_hand, row.reserved
