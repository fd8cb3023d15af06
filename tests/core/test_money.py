"""Money is shown as money everywhere: the currency symbol, thousands separators and two decimals, in both
languages (the demo once showed ``¥965.860000000000`` and pushed the phone page wider than the screen)."""

from decimal import Decimal

import pytest
from django.utils import translation

from apps.core.money import format_money
from tests.browser.world import build_world
from tests.catalog.factories import SkuFactory, stock


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_amounts_read_as_money_in_both_languages(language):
    with translation.override(language):
        assert format_money(Decimal("965.860000000000")) == "¥965.86"
        assert format_money(Decimal("1234567.5")) == "¥1,234,567.50"
        assert format_money(Decimal("-3")) == "-¥3.00"
        assert format_money(Decimal("0.005")) == "¥0.01"  # half up, as receipts round
        assert format_money(None) == ""


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_clerk_pages_show_a_sale_as_money(client, language):
    world = build_world()
    camera = SkuFactory(code="CAMERA", name="Camera", price="1234.50")
    stock(world.store, camera, 3)
    client.force_login(world.clerk.user)
    client.cookies["django_language"] = language
    response = client.post(
        "/store/sale/",
        {"items": "CAMERA", "member": world.member.code, "sale_id": "m" * 32, "action": "record"},
    )
    assert response.status_code == 302

    my_day = client.get("/store/my-day/").content.decode()
    member_page = client.get(f"/store/members/{world.member.code}/").content.decode()
    order_page = client.get(response["Location"]).content.decode()

    assert 'data-testid="my-sales-day">¥1,234.50<' in my_day
    assert "¥1,234.50" in member_page and "¥1,234.50" in order_page
    for page in (my_day, member_page, order_page):
        assert "1234.5" not in page  # never the bare number, never more than two decimals
