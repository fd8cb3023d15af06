"""Factories for the catalog tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.catalog.models import Category, PriceChange, Product, Sku, Stock, StockMovement


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cat{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Style {o.code}")
    brand = "Acme"
    category = factory.SubFactory(CategoryFactory)


class SkuFactory(factory.django.DjangoModelFactory):
    """A SKU with a list price that took effect an hour ago (``price=None`` for an unpriced SKU)."""

    class Meta:
        model = Sku
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"SKU{n:05d}")
    product = factory.SubFactory(ProductFactory)
    name = factory.LazyAttribute(lambda o: f"Item {o.code}")
    barcode = factory.Sequence(lambda n: f"690{n:010d}")

    @factory.post_generation
    def price(self, create, extracted, **kwargs):
        if create and extracted is not False:
            PriceChange.objects.create(
                sku=self,
                price=Decimal(extracted if extracted is not None else "100.00"),
                valid_from=timezone.now() - timedelta(hours=1),
                source=PriceChange.Source.SEED,
            )


def stock(store, sku, on_hand: int, reserved: int = 0) -> Stock:
    """A stock row explained by one adjustment movement, as the services would leave it."""
    row = Stock.objects.create(store=store, sku=sku, on_hand=on_hand, reserved=reserved)
    StockMovement.objects.create(
        store=store,
        sku=sku,
        kind=StockMovement.Kind.ADJUSTMENT,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        reference="test",
        created_at=timezone.now(),
    )
    return row
