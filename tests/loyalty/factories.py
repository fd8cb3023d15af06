from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.loyalty.models import CouponTemplate


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouponTemplate
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"tpl{n}")
    name = factory.LazyAttribute(lambda o: f"Coupon {o.code}")
    kind = CouponTemplate.Kind.AMOUNT
    value = Decimal("20.00")
    min_spend = Decimal("0.00")
    valid_days = 30
    per_member_limit = 1

    @factory.post_generation
    def stores(self, create, extracted, **kwargs):
        if create and extracted:
            self.stores.set(extracted)

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if create and extracted:
            self.channels.set(extracted)

    @factory.post_generation
    def categories(self, create, extracted, **kwargs):
        if create and extracted:
            self.categories.set(extracted)


def days(n: int):
    return timezone.now() + timedelta(days=n)
