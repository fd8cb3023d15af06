import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.catalog.models import PriceChange, Product, Sku, Stock, StockMovement, TierPrice
from apps.catalog.selectors import sku_prices
from apps.catalog.services import price_change_schedule
from apps.core.imports import ImportFailed, import_file
from tests.factories import StoreFactory, TierFactory

from .factories import CategoryFactory, SkuFactory, stock

pytestmark = pytest.mark.django_db


def _import(resource: str, text: str):
    return import_file(resource, io.BytesIO(text.encode()), "f.csv")


def _errors(resource: str, text: str) -> dict[int, str]:
    with pytest.raises(ImportFailed) as caught:
        _import(resource, text)
    return {e.line: str(e) for e in caught.value.row_errors}


SKUS = """sku,product,name,category,barcode,price,active,size,colour
TEE-W-S,TEE,Classic tee white S,tops,6901234567001,129.00,yes,S,white
TEE-W-M,TEE,Classic tee white M,tops,6901234567002,129.00,yes,M,white
RUN-42,RUN,Runner 42,shoes,6901234567003,599,yes,42,
"""


def test_skus_import_creates_products_skus_and_prices_and_reimport_changes_nothing():
    CategoryFactory(code="tops")
    CategoryFactory(code="shoes")

    result = _import("skus", SKUS)

    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert "3 price(s) set" in str(result)
    tee = Product.objects.get(code="TEE")
    assert (tee.name, tee.category.code, tee.skus.count()) == ("Classic tee white S", "tops", 2)
    sku = Sku.objects.get(code="TEE-W-M")
    assert (sku.barcode, sku.attributes, sku.is_active) == ("6901234567002", {"size": "M", "colour": "white"}, True)
    assert sku_prices(skus=["RUN-42"])["RUN-42"].price == Decimal("599.00")

    again = _import("skus", SKUS)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert "0 price(s) set" in str(again)
    assert PriceChange.objects.count() == 3


def test_skus_import_with_a_new_price_schedules_it_now_and_keeps_history_and_upcoming_changes():
    CategoryFactory(code="tops")
    CategoryFactory(code="shoes")
    _import("skus", SKUS)
    upcoming = price_change_schedule(
        sku=Sku.objects.get(code="RUN-42"), price="499.00", valid_from=timezone.now() + timedelta(days=7)
    )

    _import("skus", SKUS.replace("599,yes", "579.00,yes"))

    assert sku_prices(skus=["RUN-42"])["RUN-42"].price == Decimal("579.00")
    assert list(PriceChange.objects.filter(sku__code="RUN-42").values_list("price", flat=True)) == [
        Decimal("499.00"),
        Decimal("579.00"),
        Decimal("599.00"),
    ]
    assert sku_prices(skus=["RUN-42"], at=upcoming.valid_from)["RUN-42"].price == Decimal("499.00")


def test_skus_import_bad_rows_import_nothing():
    CategoryFactory(code="tops")
    SkuFactory(code="OLD", barcode="6900000000001")
    malformed = (
        "sku,product,name,category,barcode,price,active\n"
        "A1,P1,Fine,tops,6900000000010,10.00,yes\n"  # 2 fine
        "A2,P1,Neg,tops,6900000000011,-1.00,yes\n"  # 3 negative price
        "A3,P1,Bad,tops,6900000000012,12.345,yes\n"  # 4 three decimals
        "A4,P1,Bad,tops,6900000000013,abc,yes\n"  # 5 not a number
        "A5,P1,Bad barcode,tops,69-00,1.00,yes\n"  # 6 not a barcode
    )
    errors = _errors("skus", malformed)
    assert sorted(errors) == [3, 4, 5, 6]
    assert "negative" in errors[3] and "decimal places" in errors[4] and "'abc'" in errors[5]

    inconsistent = (
        "sku,product,name,category,barcode,price,active\n"
        "A1,P1,Fine,tops,6900000000010,10.00,yes\n"  # 2 fine
        "A5,P1,Dup barcode,tops,6900000000010,10.00,yes\n"  # 3 barcode of line 2
        "A6,P1,Taken barcode,tops,6900000000001,10.00,yes\n"  # 4 barcode of SKU OLD
        "A7,P1,No price,tops,,,yes\n"  # 5 new SKU without price
        "A8,P2,Unknown category,nowhere,,10.00,yes\n"  # 6
        "A9,P1,Other category,,,10.00,yes\n"  # 7 P1 is in tops on line 2
    )
    errors = _errors("skus", inconsistent)
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "also on line 2" in errors[3] and "belongs to SKU OLD" in errors[4]
    assert "needs a price" in errors[5] and "unknown category 'nowhere'" in errors[6]
    assert "in category 'tops' on line 2" in errors[7]
    assert not Sku.objects.exclude(code="OLD").exists() and not Product.objects.filter(code="P1").exists()


def test_tier_prices_import_and_bad_rows():
    SkuFactory(code="A1", price="100.00")
    gold = TierFactory(code="gold")
    result = _import("tier_prices", "sku,tier,price\nA1,gold,88.00\n")
    assert result.created == 1
    assert TierPrice.objects.get(sku__code="A1", tier=gold).price == Decimal("88.00")
    assert _import("tier_prices", "sku,tier,price\nA1,gold,88.00\n").unchanged == 1
    assert _import("tier_prices", "sku,tier,price\nA1,gold,85\n").updated == 1

    errors = _errors("tier_prices", "sku,tier,price\nA1,gold,80\nNOPE,gold,1\nA1,platinum,1\n")
    assert "unknown SKU 'NOPE'" in errors[3] and "unknown tier 'platinum'" in errors[4]
    errors = _errors("tier_prices", "sku,tier,price\nA1,gold,80\nA1,gold,2\nA1,silver,-2\n")
    assert "duplicate of line 2" in errors[3] and "negative" in errors[4]
    assert TierPrice.objects.get(sku__code="A1").price == Decimal("85.00")


def test_price_changes_import_schedules_future_changes_refuses_the_past_and_reimports_cleanly():
    SkuFactory(code="A1", price="100.00")
    SkuFactory(code="B1", price="50.00")
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    text = f"sku,price,valid_from\nA1,90.00,{tomorrow}\nB1,45.00,{tomorrow}T10:00:00+08:00\n"

    result = _import("price_changes", text)

    assert result.created == 2
    a1 = PriceChange.objects.get(sku__code="A1", price=Decimal("90.00"))
    assert timezone.localtime(a1.valid_from).hour == 0
    assert _import("price_changes", text).unchanged == 2

    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    errors = _errors("price_changes", f"sku,price,valid_from\nA1,80,{yesterday}\nNOPE,1,{tomorrow}\n")
    assert "in the past" in errors[2] and "unknown SKU" in errors[3]
    errors = _errors("price_changes", f"sku,price,valid_from\nA1,-5,{tomorrow}\nA1,5,soon\n")
    assert "negative" in errors[2] and "ISO 8601" in errors[3]
    assert PriceChange.objects.count() == 4


def test_price_changes_import_cannot_rewrite_history():
    sku = SkuFactory(code="A1", price="100.00")
    past = PriceChange.objects.get(sku=sku)
    errors = _errors("price_changes", f"sku,price,valid_from\nA1,1.00,{past.valid_from.isoformat()}\n")
    assert "cannot be rewritten" in errors[2]
    # the same entry as it is: unchanged, not an error
    assert _import("price_changes", f"sku,price,valid_from\nA1,100.00,{past.valid_from.isoformat()}\n").unchanged == 1


def test_stock_import_sets_quantities_records_adjustments_and_reimport_records_nothing():
    s1 = StoreFactory(code="S1")
    StoreFactory(code="S2")
    a, b = SkuFactory(code="A1"), SkuFactory(code="B1")
    stock(s1, a, 5, reserved=2)

    result = _import("stock", "store,sku,quantity\nS1,A1,7\nS1,B1,3\nS2,A1,0\nS2,B1,4\n")

    assert (result.created, result.updated) == (2, 1)
    assert "3 adjustment movement(s)" in str(result)
    assert {(r.store.code, r.sku.code): (r.on_hand, r.reserved) for r in Stock.objects.select_related()} == {
        ("S1", "A1"): (7, 2),
        ("S1", "B1"): (3, 0),
        ("S2", "B1"): (4, 0),
    }
    for row in Stock.objects.all():
        assert (
            row.on_hand
            == StockMovement.objects.filter(store=row.store, sku=row.sku).aggregate(n=Sum("on_hand_delta"))["n"]
        )
    before = StockMovement.objects.count()

    again = _import("stock", "store,sku,quantity\nS1,A1,7\nS1,B1,3\nS2,A1,0\nS2,B1,4\n")

    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert StockMovement.objects.count() == before
    assert b.pk


def test_stock_import_bad_rows_import_nothing():
    s1 = StoreFactory(code="S1")
    a = SkuFactory(code="A1")
    stock(s1, a, 5, reserved=2)
    errors = _errors("stock", "store,sku,quantity\nS1,A1,9\nNOWHERE,A1,1\nS1,NOPE,1\n")
    assert "unknown store 'NOWHERE'" in errors[3] and "unknown SKU 'NOPE'" in errors[4]
    errors = _errors("stock", "store,sku,quantity\nS1,A1,9\nS1,A1,3\n")
    assert "duplicate of line 2" in errors[3]

    errors = _errors("stock", "store,sku,quantity\nS1,A1,1\n")
    assert "2 are reserved" in errors[2]
    errors = _errors("stock", "store,sku,quantity\nS1,A1,-1\nS1,A1,x\n")
    assert "whole number" in errors[2]
    assert Stock.objects.get().on_hand == 5 and StockMovement.objects.count() == 1
