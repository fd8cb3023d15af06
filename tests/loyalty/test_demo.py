import pytest
from django.core.management import call_command

from apps.loyalty.models import Coupon, PointsEntry
from apps.loyalty.selectors import ledger_mismatches
from apps.members.models import Member

pytestmark = pytest.mark.django_db


def test_demo_ledger_matches_balances_and_reseeding_books_nothing_twice():
    call_command("seed_demo")
    entries, coupons = PointsEntry.objects.count(), Coupon.objects.count()

    call_command("seed_demo")

    assert entries > 1000 and coupons > 0
    assert (PointsEntry.objects.count(), Coupon.objects.count()) == (entries, coupons)
    assert ledger_mismatches() == []
    demo = Member.objects.get(phone="+8613800138000")
    assert demo.points_balance > 0 and Coupon.objects.filter(member=demo).count() >= 1
