import io
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.core.imports import ImportFailed, import_file
from apps.members.models import MemberSpendDay
from apps.orders.models import Order, OrderLine

CSV = """external_id,channel,store,member_phone,placed_at,sku,quantity,unit_price
H1,mall,S001,13800138000,2025-03-01T10:00:00+08:00,TEA,2,28.00
H1,mall,S001,13800138000,2025-03-01T10:00:00+08:00,CUP,1,12.50
H2,mall,S001,,2025-03-02T10:00:00+08:00,POT,1,90.00
"""


def run(text, **options):
    return import_file("orders", io.BytesIO(text.encode()), "orders.csv", **options)


def test_historic_import_prices_as_given_and_reimport_changes_nothing(channel, store, skus, member, guide):
    result = run(CSV)
    assert result.created == 2
    first = Order.objects.get(external_id="H1")
    assert first.total == Decimal("68.50") and first.member == member and first.points_earned == 0
    assert first.is_online and first.credited_store == store and first.credited_guide == guide
    assert list(first.lines.values_list("position", "sku__code", "total")) == [
        (1, "TEA", Decimal("56.00")),
        (2, "CUP", Decimal("12.50")),
    ]
    assert MemberSpendDay.objects.get(member=member).amount == Decimal("68.50")
    member.refresh_from_db()
    assert member.points_balance == 0
    again = run(CSV)
    assert again.created == 0 and Order.objects.count() == 2 and OrderLine.objects.count() == 3
    assert MemberSpendDay.objects.get(member=member).amount == Decimal("68.50")


def test_historic_import_awards_points_when_asked(channel, store, skus, member):
    run(CSV, award_points=True)
    member.refresh_from_db()
    assert member.points_balance == 68
    assert Order.objects.get(external_id="H1").points_earned == 68


def test_bad_rows_import_nothing(channel, store, skus, member):
    bad = CSV + "H3,mall,S001,,2025-03-02T10:00:00+08:00,NOPE,1,1.00\nH4,mall,S001,,2025-03-02,TEA,0,1.00\n"
    with pytest.raises(ImportFailed) as failure:
        run(bad)
    assert [e.line for e in failure.value.row_errors] == [5, 6]
    assert not Order.objects.exists()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_order_list_and_detail_and_sales_report(
    api, staff_client, store, skus, member, django_assert_max_num_queries
):
    for i in range(5):
        api.post("/api/v1/orders", {"external_id": f"A{i}", "store": "S001", "member": {"code": "M1"},
                                    "lines": [{"sku": "TEA", "quantity": 1}]}, format="json")  # fmt: skip
    with django_assert_max_num_queries(12):
        page = staff_client.get(reverse("admin:orders_order_changelist"))
    assert page.status_code == 200 and page.content.count(b"/change/") >= 5
    with django_assert_max_num_queries(12):
        more = staff_client.get(reverse("admin:orders_order_changelist"), {"q": "+8613800138000"})
    assert more.status_code == 200
    order = Order.objects.first()
    detail = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert detail.status_code == 200 and b"coupons are given back" in detail.content
    report = staff_client.get(reverse("admin:orders_order_sales"), {"start": "2000-01-01"})
    assert report.status_code == 200 and b"150.00" in report.content


def test_admin_refund_action(api, staff_client, store, skus, member):
    data = {"external_id": "A", "store": "S001", "member": {"code": "M1"}, "lines": [{"sku": "TEA", "quantity": 2}]}
    number = api.post("/api/v1/orders", data, format="json").json()["number"]
    order = Order.objects.get(number=number)
    response = staff_client.post(
        reverse("admin:orders_order_changelist"), {"action": "refund_in_full", "_selected_action": [order.pk]}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "refunded" and order.refunded_total == Decimal("60.00")


def test_demo_seeds_a_year_of_orders_once(channel, store, skus, member):
    from django.utils import timezone

    from apps.orders.demo import seed

    seed(stdout=None)
    count = Order.objects.count()
    assert count > 0
    assert not Order.objects.filter(placed_at__lt=timezone.now() - timezone.timedelta(days=366)).exists()
    assert Order.objects.filter(member=member).exists()
    seed(stdout=None)
    assert Order.objects.count() == count
