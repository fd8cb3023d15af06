import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.loyalty.errors import InsufficientPoints, InvalidPoints
from apps.loyalty.models import PointsEntry, PointsLot
from apps.loyalty.points import lot_expiry
from apps.loyalty.selectors import ledger_mismatches, points_expiring
from apps.loyalty.services import points_adjust, points_earn, points_expire_due, points_redeem, points_reverse
from apps.members.models import Member
from apps.members.services import member_merge
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def _at(y, m, d):
    return timezone.make_aware(datetime(y, m, d, 12))


def test_points_expire_at_the_end_of_the_twelfth_month_after_earning():
    from datetime import date

    assert timezone.localtime(lot_expiry(date(2026, 1, 1))).date() == date(2027, 2, 1)
    assert timezone.localtime(lot_expiry(date(2026, 11, 1))).date() == date(2027, 12, 1)


def test_earning_is_booked_once_per_key_and_the_balance_equals_the_ledger():
    member = MemberFactory()
    first = points_earn(member_id=member.pk, points=120, reference="order A", idempotency_key="order:1:earn")
    again = points_earn(member_id=member.pk, points=120, reference="order A", idempotency_key="order:1:earn")

    assert again.pk == first.pk and _balance(member) == 120
    assert PointsEntry.objects.filter(member=member).count() == 1
    assert ledger_mismatches() == []


def test_earning_inside_a_transaction_books_like_points_earn():
    from django.db import transaction

    from apps.loyalty.services import points_earn_in_transaction

    member, other = MemberFactory(), MemberFactory()
    at = _at(2026, 11, 5)
    points_earn(member_id=other.pk, points=70, reference="order A", idempotency_key="order:1:earn", at=at)
    with transaction.atomic():
        for _ in range(2):  # the same key again books nothing
            points_earn_in_transaction(
                member_id=member.pk, points=70, reference="order B", idempotency_key="order:2:earn", at=at
            )
        points_earn_in_transaction(
            member_id=member.pk, points=30, reference="order C", idempotency_key="order:3:earn", at=at
        )
        points_earn_in_transaction(
            member_id=member.pk, points=5, reference="order D", idempotency_key="order:1:earn", at=at
        )
    with pytest.raises(InvalidPoints), transaction.atomic():
        points_earn_in_transaction(member_id=member.pk, points=0, reference="x", idempotency_key="order:4:earn")

    assert _balance(member) == 100 and ledger_mismatches() == []
    mine = list(PointsEntry.objects.filter(member=member).order_by("pk").values_list("kind", "points", "balance_after"))
    assert mine == [("earn", 70, 70), ("earn", 30, 100)]
    expected = PointsEntry.objects.get(member=other)
    entry = PointsEntry.objects.get(idempotency_key="order:2:earn")
    assert (entry.reference, entry.created_at, entry.reason, entry.shortfall, entry.created_by) == (
        "order B",
        expected.created_at,
        expected.reason,
        expected.shortfall,
        expected.created_by,
    )
    lot, other_lot = PointsLot.objects.get(member=member), PointsLot.objects.get(member=other)
    assert (lot.points, lot.remaining) == (100, 100)
    assert (lot.earned_month, lot.expires_at) == (other_lot.earned_month, other_lot.expires_at)


def test_spending_takes_the_oldest_points_first():
    member = MemberFactory()
    points_earn(member_id=member.pk, points=100, reference="a", idempotency_key="a", at=_at(2026, 1, 5))
    points_earn(member_id=member.pk, points=50, reference="b", idempotency_key="b", at=_at(2026, 3, 5))

    points_redeem(member_id=member.pk, points=120, reference="mall", idempotency_key="r1", at=_at(2026, 4, 1))

    lots = dict(PointsLot.objects.filter(member=member).values_list("earned_month__month", "remaining"))
    assert lots == {1: 0, 3: 30}
    assert _balance(member) == 30


def test_redeeming_more_than_the_balance_changes_nothing():
    member = MemberFactory()
    points_earn(member_id=member.pk, points=10, reference="a", idempotency_key="a")
    with pytest.raises(InsufficientPoints):
        points_redeem(member_id=member.pk, points=11, reference="x", idempotency_key="x")
    assert _balance(member) == 10 and PointsEntry.objects.filter(member=member).count() == 1


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "10"])
def test_points_must_be_positive_whole_numbers(bad):
    member = MemberFactory()
    with pytest.raises(InvalidPoints):
        points_earn(member_id=member.pk, points=bad, reference="x", idempotency_key="x")


def test_reversal_never_goes_below_zero_and_records_the_shortfall():
    member = MemberFactory()
    points_earn(member_id=member.pk, points=100, reference="order 1", idempotency_key="e1")
    points_redeem(member_id=member.pk, points=80, reference="mall", idempotency_key="r1")

    entry = points_reverse(member_id=member.pk, points=100, reference="refund 1", idempotency_key="refund:1")

    assert (entry.points, entry.shortfall, entry.balance_after) == (-20, 80, 0)
    assert _balance(member) == 0 and ledger_mismatches() == []


def test_expiry_is_set_based_idempotent_and_keeps_the_ledger_equal():
    a, b = MemberFactory(), MemberFactory()
    points_earn(member_id=a.pk, points=100, reference="old", idempotency_key="a-old", at=_at(2025, 1, 10))
    points_earn(member_id=a.pk, points=40, reference="new", idempotency_key="a-new", at=_at(2026, 6, 10))
    points_earn(member_id=b.pk, points=70, reference="old", idempotency_key="b-old", at=_at(2025, 1, 20))
    points_redeem(member_id=b.pk, points=20, reference="mall", idempotency_key="b-r", at=_at(2025, 6, 1))

    result = points_expire_due(now=_at(2026, 2, 2))
    again = points_expire_due(now=_at(2026, 2, 2))

    assert (result.members, result.points) == (2, 150)
    assert (again.members, again.points) == (0, 0)
    assert (_balance(a), _balance(b)) == (40, 0)
    assert PointsEntry.objects.filter(kind="expire").count() == 2
    stamp = timezone.localtime(_at(2026, 2, 2)).strftime("%Y%m%d%H%M%S")
    assert PointsEntry.objects.get(kind="expire", member_id=a.pk).idempotency_key == f"expire:{stamp}:{a.pk:012d}"
    assert ledger_mismatches() == []
    # the due lots are gone (b's was partly spent), the unexpired one is untouched
    assert list(PointsLot.objects.values_list("member_id", "remaining")) == [(a.pk, 40)]


def test_expiry_deletes_a_fully_spent_due_lot_without_booking_anything():
    member = MemberFactory()
    points_earn(member_id=member.pk, points=50, reference="old", idempotency_key="old", at=_at(2025, 1, 10))
    points_redeem(member_id=member.pk, points=50, reference="mall", idempotency_key="r", at=_at(2025, 3, 1))

    result = points_expire_due(now=_at(2026, 2, 2))

    assert (result.members, result.points) == (0, 0)
    assert not PointsLot.objects.exists() and not PointsEntry.objects.filter(kind="expire").exists()
    assert _balance(member) == 0 and ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_an_expiry_waits_for_a_redemption_in_flight_and_expires_only_what_is_left():
    member = MemberFactory()
    points_earn(member_id=member.pk, points=100, reference="old", idempotency_key="old", at=_at(2025, 1, 10))
    points_earn(member_id=member.pk, points=50, reference="new", idempotency_key="new", at=timezone.now())
    redeemed, release = threading.Event(), threading.Event()
    results = {}

    def redeem():
        try:
            with transaction.atomic():  # holds the member row until released
                points_redeem(
                    member_id=member.pk, points=120, reference="mall", idempotency_key="r", at=_at(2026, 1, 30)
                )
                redeemed.set()
                release.wait(10)
        finally:
            connection.close()

    def expire():
        try:
            results["expired"] = points_expire_due(now=_at(2026, 2, 2))
        finally:
            connection.close()

    redeemer = threading.Thread(target=redeem)
    redeemer.start()
    assert redeemed.wait(10)
    expirer = threading.Thread(target=expire)
    expirer.start()
    expirer.join(0.5)
    assert expirer.is_alive()  # blocked on the member row, not working from a stale view of the lots
    release.set()
    redeemer.join(10)
    expirer.join(10)

    # the redemption (before the old lot's end) took its 100 first, then 20 of the new: nothing left to expire
    assert (results["expired"].members, results["expired"].points) == (0, 0)
    assert _balance(member) == 30 and ledger_mismatches() == []


def test_expiring_points_are_listed_soonest_first():
    member = MemberFactory()
    points_earn(
        member_id=member.pk, points=30, reference="a", idempotency_key="a", at=timezone.now() - timedelta(days=40)
    )
    points_earn(member_id=member.pk, points=20, reference="b", idempotency_key="b")
    expiring = points_expiring(member_id=member.pk)
    assert [e["points"] for e in expiring] == [30, 20]  # 40 days ago is always an earlier month
    assert expiring[0]["expires_at"] > timezone.now()


def test_adjustments_need_a_reason_and_record_the_operator(admin_user):
    member = MemberFactory()
    with pytest.raises(InvalidPoints):
        points_adjust(member_id=member.pk, points=50, reason=" ", user=admin_user, idempotency_key="adj1")
    entry = points_adjust(member_id=member.pk, points=50, reason="goodwill", user=admin_user, idempotency_key="adj1")
    assert (entry.kind, entry.created_by, entry.reason, _balance(member)) == ("adjust", admin_user, "goodwill", 50)
    with pytest.raises(InsufficientPoints):
        points_adjust(member_id=member.pk, points=-60, reason="typo", user=admin_user, idempotency_key="adj2")


def test_merging_members_moves_points_with_their_expiry():
    survivor, merged = MemberFactory(), MemberFactory()
    points_earn(member_id=survivor.pk, points=10, reference="a", idempotency_key="s")
    points_earn(member_id=merged.pk, points=90, reference="b", idempotency_key="m")

    member_merge(survivor=survivor, merged=merged)

    assert (_balance(survivor), _balance(merged)) == (100, 0)
    assert sum(PointsLot.objects.filter(member=survivor).values_list("remaining", flat=True)) == 100
    assert set(PointsEntry.objects.filter(kind__startswith="merge").values_list("kind", "points")) == {
        ("merge_in", 90),
        ("merge_out", -90),
    }
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_many_simultaneous_redemptions_never_overdraw():
    member = MemberFactory()
    points_earn(member_id=member.pk, points=100, reference="a", idempotency_key="seed")
    outcomes = []
    barrier = threading.Barrier(20)

    def redeem(i):
        try:
            barrier.wait()
            points_redeem(member_id=member.pk, points=15, reference="mall", idempotency_key=f"r{i}")
            outcomes.append("ok")
        except InsufficientPoints:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("ok") == 6 and outcomes.count("refused") == 14  # 6 x 15 = 90 <= 100
    assert _balance(member) == 10 and ledger_mismatches() == []


def test_a_booking_for_a_missing_member_fails_and_writes_nothing():
    # The ledger has no database foreign key on the member: the member row lock every booking takes is the check.
    with pytest.raises(Member.DoesNotExist):
        points_earn(member_id=987_654_321, points=10, reference="x", idempotency_key="ghost")
    assert not PointsEntry.objects.exists() and not PointsLot.objects.exists()


def test_a_member_with_ledger_entries_cannot_be_deleted():
    from django.db.models import ProtectedError

    member = MemberFactory()
    points_earn(member_id=member.pk, points=10, reference="x", idempotency_key="k")
    PointsLot.objects.filter(member=member).delete()  # only the ledger entry refers to the member now
    with pytest.raises(ProtectedError):
        member.delete()


@pytest.mark.django_db(transaction=True)
def test_the_in_transaction_services_refuse_to_run_outside_a_transaction():
    from apps.catalog.services import stock_sell_in_transaction
    from apps.loyalty.points import points_earn_in_transaction
    from apps.members.services import member_record_spend_in_transaction

    member = MemberFactory()
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        points_earn_in_transaction(member_id=member.pk, points=10, reference="x", idempotency_key="k")
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        member_record_spend_in_transaction(member_id=member.pk, amount=10, at=timezone.now())
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        stock_sell_in_transaction(store_id=1, lines=[(1, 1)], reference="x")
    assert not PointsEntry.objects.exists() and _balance(member) == 0
