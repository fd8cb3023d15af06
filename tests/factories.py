"""factory_boy factories shared by the tests of every app."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.stores.models import Channel, Staff, Store


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ch{n}")
    name = factory.LazyAttribute(lambda o: f"Channel {o.code}")
    kind = Channel.Kind.MALL


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Store {o.code}")
    kind = Store.Kind.STORE
    city = "Shanghai"
    lat = Decimal("31.230000")
    lng = Decimal("121.470000")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    code = factory.Sequence(lambda n: f"G{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Staff {o.code}")
    role = Staff.Role.GUIDE

    @factory.post_generation
    def stores(self, create, extracted, **kwargs):
        if create and extracted:
            self.stores.set(extracted)


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "members.Tier"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"tier{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    rank = factory.Sequence(lambda n: n + 1)
    min_annual_spend = Decimal("0.00")
    points_per_yuan = Decimal("1.00")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "members.Member"

    code = factory.Sequence(lambda n: f"M{n:09d}")
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    name = factory.Faker("name")
    joined_at = factory.LazyFunction(timezone.now)
