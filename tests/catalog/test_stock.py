import threading

import pytest
from django.db import connection
from django.db.models import Sum

from apps.catalog.errors import InvalidQuantity, OutOfStock, ReservationMissing
from apps.catalog.models import Stock, StockMovement
from apps.catalog.services import (
    stock_fulfil_reserved,
    stock_release,
    stock_reserve,
    stock_return,
    stock_sell,
    stock_set_quantity,
    stock_transfer,
)
from tests.factories import StoreFactory

from .factories import SkuFactory, stock


def _row(store, sku) -> tuple[int, int]:
    row = Stock.objects.get(store=store, sku=sku)
    return row.on_hand, row.reserved


def _explained(store, sku) -> tuple[int, int]:
    sums = StockMovement.objects.filter(store=store, sku=sku).aggregate(
        on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
    )
    return sums["on_hand"] or 0, sums["reserved"] or 0


@pytest.mark.django_db
def test_sale_reserve_pick_up_release_and_return_each_leave_an_explained_quantity():
    store, a, b = StoreFactory(code="S1"), SkuFactory(code="A"), SkuFactory(code="B")
    stock(store, a, 10)
    stock(store, b, 3)

    stock_sell(store_id=store.pk, lines=[(a.pk, 2), (b.pk, 1)], reference="order:1")
    stock_reserve(store_id=store.pk, lines=[(a.pk, 3)], reference="order:2")
    stock_fulfil_reserved(store_id=store.pk, lines=[(a.pk, 1)], reference="order:2")
    stock_release(store_id=store.pk, lines=[(a.pk, 2)], reference="order:2")
    stock_return(store_id=store.pk, lines=[(b.pk, 1)], reference="refund:1")

    assert _row(store, a) == (7, 0) == _explained(store, a)
    assert _row(store, b) == (3, 0) == _explained(store, b)
    kinds = list(StockMovement.objects.filter(reference="order:2").order_by("id").values_list("kind", flat=True))
    assert kinds == ["reservation", "fulfilment", "release"]


@pytest.mark.django_db
def test_an_order_with_one_short_line_changes_nothing_and_names_the_sku():
    store, a, b = StoreFactory(code="S1"), SkuFactory(code="A"), SkuFactory(code="B")
    stock(store, a, 10)
    stock(store, b, 1, reserved=1)  # the only one is held for someone else
    before = StockMovement.objects.count()

    with pytest.raises(OutOfStock) as caught:
        stock_sell(store_id=store.pk, lines=[(a.pk, 2), (b.pk, 1)], reference="order:1")

    assert caught.value.sku_ids == [b.pk] and "B: available 0, wanted 1" in caught.value.detail
    assert caught.value.code == "out_of_stock" and caught.value.status == 409
    assert _row(store, a) == (10, 0) and _row(store, b) == (1, 1)
    assert StockMovement.objects.count() == before


@pytest.mark.django_db
def test_reserving_more_than_available_and_releasing_what_is_not_reserved_are_refused():
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock(store, a, 2, reserved=1)
    with pytest.raises(OutOfStock):
        stock_reserve(store_id=store.pk, lines=[(a.pk, 2)], reference="r")
    with pytest.raises(ReservationMissing):
        stock_release(store_id=store.pk, lines=[(a.pk, 2)], reference="r")
    with pytest.raises(OutOfStock):
        stock_sell(store_id=store.pk, lines=[(a.pk, 1), (SkuFactory(code="NOSTOCK").pk, 1)], reference="r")
    assert _row(store, a) == (2, 1)


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_quantities_must_be_positive_whole_numbers(quantity):
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock(store, a, 5)
    with pytest.raises(InvalidQuantity):
        stock_sell(store_id=store.pk, lines=[(a.pk, quantity)], reference="r")
    assert _row(store, a) == (5, 0)


@pytest.mark.django_db
def test_duplicate_lines_are_summed():
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock(store, a, 3)
    with pytest.raises(OutOfStock):
        stock_sell(store_id=store.pk, lines=[(a.pk, 2), (a.pk, 2)], reference="r")
    stock_sell(store_id=store.pk, lines=[(a.pk, 1), (a.pk, 2)], reference="r")
    assert _row(store, a) == (0, 0) == _explained(store, a)


@pytest.mark.django_db
def test_a_return_to_a_store_without_a_row_creates_it():
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock_return(store_id=store.pk, lines=[(a.pk, 2)], reference="refund:9")
    assert _row(store, a) == (2, 0) == _explained(store, a)


@pytest.mark.django_db
def test_transfer_moves_stock_and_refuses_what_the_source_lacks():
    s1, s2, a = StoreFactory(code="S1"), StoreFactory(code="S2"), SkuFactory(code="A")
    stock(s1, a, 5)
    stock_transfer(from_store_id=s1.pk, to_store_id=s2.pk, lines=[(a.pk, 2)], reference="T1")
    with pytest.raises(OutOfStock):
        stock_transfer(from_store_id=s1.pk, to_store_id=s2.pk, lines=[(a.pk, 4)], reference="T2")
    assert _row(s1, a) == (3, 0) == _explained(s1, a)
    assert _row(s2, a) == (2, 0) == _explained(s2, a)


@pytest.mark.django_db
def test_a_count_sets_the_quantity_and_records_the_difference():
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock(store, a, 5, reserved=2)
    movement = stock_set_quantity(store_id=store.pk, sku_id=a.pk, quantity=8, reference="count")
    assert movement.on_hand_delta == 3
    assert stock_set_quantity(store_id=store.pk, sku_id=a.pk, quantity=8, reference="count") is None
    with pytest.raises(InvalidQuantity):
        stock_set_quantity(store_id=store.pk, sku_id=a.pk, quantity=1, reference="count")
    assert _row(store, a) == (8, 2) == _explained(store, a)


def _in_parallel(n: int, work) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
            results[i] = "ok"
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_sales_of_the_last_items_sell_each_item_once():
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock(store, a, 3)

    results = _in_parallel(8, lambda i: stock_sell(store_id=store.pk, lines=[(a.pk, 1)], reference=f"o{i}"))

    assert results.count("ok") == 3
    assert all(isinstance(r, OutOfStock) for r in results if r != "ok")
    assert _row(store, a) == (0, 0) == _explained(store, a)


@pytest.mark.django_db(transaction=True)
def test_concurrent_multi_line_orders_in_opposite_order_neither_deadlock_nor_oversell():
    store, a, b = StoreFactory(code="S1"), SkuFactory(code="A"), SkuFactory(code="B")
    stock(store, a, 4)
    stock(store, b, 4)

    def work(i: int) -> None:
        lines = [(a.pk, 1), (b.pk, 1)] if i % 2 else [(b.pk, 1), (a.pk, 1)]
        stock_sell(store_id=store.pk, lines=lines, reference=f"o{i}")

    results = _in_parallel(10, work)

    assert results.count("ok") == 4
    assert all(isinstance(r, OutOfStock) for r in results if r != "ok")
    assert _row(store, a) == (0, 0) == _explained(store, a)
    assert _row(store, b) == (0, 0) == _explained(store, b)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_and_sales_never_exceed_what_is_on_hand():
    store, a = StoreFactory(code="S1"), SkuFactory(code="A")
    stock(store, a, 5)

    def work(i: int) -> None:
        (stock_reserve if i % 2 else stock_sell)(store_id=store.pk, lines=[(a.pk, 1)], reference=f"o{i}")

    results = _in_parallel(10, work)

    on_hand, reserved = _row(store, a)
    assert results.count("ok") == 5
    assert on_hand - reserved == 0 and reserved <= on_hand
    assert (on_hand, reserved) == _explained(store, a)
