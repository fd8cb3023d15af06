from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog.models import ChannelListing, PriceChange, Stock, StockMovement, TierPrice
from apps.catalog.services import price_change_schedule, tier_price_set
from tests.console import hidden_inputs
from tests.factories import ChannelFactory, StoreFactory, TierFactory

from .factories import SkuFactory, stock

pytestmark = pytest.mark.django_db


def _queries(client, url: str, *, only: str = "") -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return sum(1 for q in ctx.captured_queries if only in q["sql"])


def test_admin_sku_list_query_count_does_not_grow_with_rows(admin_client):
    store = StoreFactory(code="S1")
    urls = [
        "/admin/catalog/sku/",
        "/admin/catalog/sku/?q=SKU",
        "/admin/catalog/stock/",
        "/admin/catalog/stockmovement/",
    ]
    for _ in range(3):
        stock(store, SkuFactory(), 1)
    few = [_queries(admin_client, url) for url in urls]
    for _ in range(20):
        stock(StoreFactory(), SkuFactory(), 1)
    many = [_queries(admin_client, url) for url in urls]
    assert few == many
    # category filter, estimate, count, page with prices and categories joined in: no query per row
    assert _queries(admin_client, "/admin/catalog/sku/", only="catalog_") == 4


def test_admin_sku_list_shows_the_current_price_and_searches_code_barcode_and_name(admin_client):
    SkuFactory(code="TEE-W-M", name="Classic tee white M", barcode="6901234567002", price="129.00")
    SkuFactory(code="RUN-42", name="Runner 42", barcode="6901234567003", price="599.00")

    page = admin_client.get("/admin/catalog/sku/").content.decode()
    assert "129.00" in page and "599.00" in page
    for term in ("TEE-W-M", "6901234567002", "Classic tee"):
        page = admin_client.get("/admin/catalog/sku/", {"q": term}).content.decode()
        assert "TEE-W-M" in page and "RUN-42" not in page, term
    assert "TEE-W-M" not in admin_client.get("/admin/catalog/sku/", {"q": "tee"}).content.decode()


def test_admin_sku_page_shows_history_upcoming_member_prices_and_stock(admin_client):
    sku = SkuFactory(code="A1", price="10.00")
    price_change_schedule(sku=sku, price="7.77", valid_from=timezone.now() + timedelta(days=2))
    stock(StoreFactory(code="SH001"), sku, 4, reserved=1)

    page = admin_client.get(f"/admin/catalog/sku/{sku.pk}/change/").content.decode()

    assert "10.00" in page and "7.77" in page and "upcoming" in page and "taken effect" in page
    assert "SH001" in page and "Schedule a price change" in page


def test_admin_schedules_price_changes_but_refuses_the_past_and_keeps_history_read_only(admin_client):
    sku = SkuFactory(code="A1", price="10.00")
    past = PriceChange.objects.get(sku=sku)
    later = timezone.localtime() + timedelta(days=3)

    response = admin_client.post(
        "/admin/catalog/pricechange/add/",
        {"sku": sku.pk, "price": "9.00", "valid_from_0": later.strftime("%Y-%m-%d"), "valid_from_1": "10:00:00"},
    )
    assert response.status_code == 302
    upcoming = PriceChange.objects.get(sku=sku, price=Decimal("9.00"))
    assert upcoming.source == "admin" and upcoming.created_by is not None

    before = timezone.localtime() - timedelta(days=1)
    response = admin_client.post(
        "/admin/catalog/pricechange/add/",
        {"sku": sku.pk, "price": "8.00", "valid_from_0": before.strftime("%Y-%m-%d"), "valid_from_1": "10:00:00"},
    )
    assert response.status_code == 200 and "cannot start in the past" in response.content.decode()

    # history: no save button, posts refused
    response = admin_client.post(
        f"/admin/catalog/pricechange/{past.pk}/change/",
        {"sku": sku.pk, "price": "1.00", "valid_from_0": later.strftime("%Y-%m-%d"), "valid_from_1": "10:00:00"},
    )
    assert response.status_code == 403
    assert admin_client.post(f"/admin/catalog/pricechange/{past.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(
        "/admin/catalog/pricechange/",
        {"action": "cancel_upcoming", "_selected_action": [past.pk, upcoming.pk]},
    )
    assert response.status_code == 302
    assert list(PriceChange.objects.filter(sku=sku)) == [past]
    past.refresh_from_db()
    assert past.price == Decimal("10.00")


def test_deviation_report_lists_only_listings_that_differ_by_channel(admin_client):
    a, b = SkuFactory(code="A1", price="10.00"), SkuFactory(code="B1", price="20.00")
    tmall, mall = ChannelFactory(code="tmall", kind="platform"), ChannelFactory(code="mall")
    now = timezone.now()
    ChannelListing.objects.create(channel=tmall, sku=a, listed_price=Decimal("9.50"), reported_at=now)
    ChannelListing.objects.create(channel=tmall, sku=b, listed_price=Decimal("20.00"), reported_at=now)
    ChannelListing.objects.create(channel=mall, sku=b, listed_price=Decimal("21.00"), reported_at=now)

    page = admin_client.get("/admin/catalog/pricedeviation/").content.decode()

    assert "9.50" in page and "21.00" in page
    assert "¥10.00" in page and "-¥0.50" in page and "¥1.00" in page  # unified price and differences, as money
    assert page.count('class="field-listed_price"') == 2
    by_channel = admin_client.get("/admin/catalog/pricedeviation/", {"channel__id__exact": tmall.pk})
    assert by_channel.content.decode().count('class="field-listed_price"') == 1


def test_stock_count_entered_in_the_admin_is_recorded_as_a_movement(admin_client):
    row = stock(StoreFactory(code="S1"), SkuFactory(code="A1"), 5)
    response = admin_client.post(f"/admin/catalog/stock/{row.pk}/change/", {"on_hand": "8"})
    assert response.status_code == 302
    assert Stock.objects.get(pk=row.pk).on_hand == 8
    assert StockMovement.objects.filter(kind="adjustment", on_hand_delta=3).exists()
    Stock.objects.filter(pk=row.pk).update(reserved=2)
    response = admin_client.post(f"/admin/catalog/stock/{row.pk}/change/", {"on_hand": "1"})
    assert response.status_code == 200 and "2 are reserved" in response.content.decode()
    assert Stock.objects.get(pk=row.pk).on_hand == 8


def test_stock_import_button_imports_all_or_nothing(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    StoreFactory(code="S1")
    SkuFactory(code="A1")
    bad = SimpleUploadedFile("s.csv", b"store,sku,quantity\nS1,A1,3\nS9,A1,1\n", content_type="text/csv")
    response = admin_client.post("/admin/catalog/stock/import-file/", {"file": bad})
    assert response.status_code == 200 and "unknown store" in response.content.decode()
    assert not Stock.objects.exists()
    good = SimpleUploadedFile("s.csv", b"store,sku,quantity\nS1,A1,3\n", content_type="text/csv")
    assert admin_client.post("/admin/catalog/stock/import-file/", {"file": good}).status_code == 302
    assert Stock.objects.get().on_hand == 3


def test_every_catalog_changelist_and_export_renders(admin_client):
    sku = SkuFactory(code="A1", price="10.00")
    stock(StoreFactory(code="S1"), sku, 2)
    for url in [
        "/admin/catalog/category/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{sku.product_id}/change/",
        "/admin/catalog/sku/",
        "/admin/catalog/pricechange/",
        "/admin/catalog/pricechange/?status=upcoming",
        "/admin/catalog/tierprice/",
        "/admin/catalog/stock/",
        "/admin/catalog/stockmovement/",
        "/admin/catalog/channellisting/",
        "/admin/catalog/pricedeviation/",
        "/admin/catalog/sku/export/",
        "/admin/catalog/stock/export/",
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_a_member_price_set_in_the_console_replaces_the_tiers_price_as_the_service_does(admin_client):
    sku = SkuFactory(code="TEE-W-M", price="129.00")
    gold = TierFactory(code="gold")
    tier_price_set(sku=sku, tier_id=gold.pk, price="99.00")

    response = admin_client.post("/admin/catalog/tierprice/add/", {"sku": sku.pk, "tier": gold.pk, "price": "89.50"})

    assert response.status_code == 302
    assert list(TierPrice.objects.values_list("sku__code", "tier__code", "price")) == [
        ("TEE-W-M", "gold", Decimal("89.50"))
    ]
    negative = admin_client.post("/admin/catalog/tierprice/add/", {"sku": sku.pk, "tier": gold.pk, "price": "-1"})
    assert negative.status_code == 200 and TierPrice.objects.get().price == Decimal("89.50")


def test_member_prices_edited_on_the_sku_page_go_through_the_service(admin_client):
    sku = SkuFactory(code="TEE-W-M", price="129.00")
    gold, platinum = TierFactory(code="gold"), TierFactory(code="platinum")
    silver = TierFactory(code="silver")
    kept = tier_price_set(sku=sku, tier_id=gold.pk, price="99.00")
    dropped = tier_price_set(sku=sku, tier_id=silver.pk, price="119.00")
    url = f"/admin/catalog/sku/{sku.pk}/change/"
    page = admin_client.get(url)
    data = {**hidden_inputs(page), "code": sku.code, "product": sku.product_id, "name": sku.name}
    data |= {"barcode": sku.barcode, "attributes": "{}", "is_active": "on"}
    data |= {"tier_prices-TOTAL_FORMS": "3"}
    data |= {"tier_prices-0-tier": gold.pk, "tier_prices-0-price": "95.00"}
    data |= {"tier_prices-1-tier": silver.pk, "tier_prices-1-price": "119.00", "tier_prices-1-DELETE": "on"}
    data |= {"tier_prices-2-tier": platinum.pk, "tier_prices-2-price": "90.00"}
    assert data["tier_prices-0-id"] == str(kept.pk) and data["tier_prices-1-id"] == str(dropped.pk)

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert dict(TierPrice.objects.filter(sku=sku).values_list("tier__code", "price")) == {
        "gold": Decimal("95.00"),
        "platinum": Decimal("90.00"),
    }
