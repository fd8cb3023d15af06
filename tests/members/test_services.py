import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.members.codes import member_code_is_valid
from apps.members.errors import IdentityConflict, InvalidMemberData, InvalidPhone, MemberNotFound, MergeInvalid
from apps.members.models import Consent, ConsentEvent, Identity, Member, MemberMerge, MemberSpendDay, TierChange
from apps.members.phones import phone_mask, phone_normalize
from apps.members.selectors import member_get, member_spend_12m
from apps.members.services import (
    consent_set,
    member_erase,
    member_merge,
    member_record_spend,
    member_register,
    tiers_evaluate,
)
from tests.factories import ChannelFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw", ["13812348000", "+86 138 1234 8000", "138-1234-8000", "0086 13812348000"])
def test_phones_in_any_usual_form_become_e164(raw):
    assert phone_normalize(raw) == "+8613812348000"


@pytest.mark.parametrize("raw", ["", "12345", "not a phone", "+86 123", "1" * 40])
def test_bad_phones_are_refused(raw):
    with pytest.raises(InvalidPhone):
        phone_normalize(raw)


def test_phones_are_masked_like_receipts():
    assert phone_mask("+8613812348000") == "138****8000"
    assert phone_mask(None) == ""


def test_registration_creates_a_member_with_a_printable_code_and_the_base_tier(tiers):
    store, channel = StoreFactory(code="SH001"), ChannelFactory(code="pos", kind="pos")

    member, created = member_register(
        phone="138 1234 8000",
        name="Li Na",
        store=store,
        channel=channel,
        identities=[{"kind": "wechat_openid", "value": "oOPENID0001"}],
        consents={"wechat": True, "sms": False},
    )

    assert created and member.phone == "+8613812348000" and member_code_is_valid(member.code)
    assert (member.join_store, member.join_channel, member.tier) == (store, channel, tiers["silver"])
    assert TierChange.objects.get(member=member).reason == "joined"
    assert dict(Consent.objects.filter(member=member).values_list("channel", "granted")) == {
        "wechat": True,
        "sms": False,
    }
    assert member_get(openid="oOPENID0001") == member


def test_registering_an_existing_phone_returns_it_and_only_adds(tiers):
    first, _ = member_register(phone="13812348000", name="Li Na", birthday=date(1990, 5, 1))

    again, created = member_register(
        phone="+8613812348000",
        name="Someone Else",
        birthday=date(1980, 1, 1),
        identities=[{"kind": "wechat_unionid", "value": "uUNION1"}],
    )

    assert not created and again.pk == first.pk
    again.refresh_from_db()
    assert (again.name, again.birthday) == ("Li Na", date(1990, 5, 1))  # nothing overwritten
    assert Member.objects.count() == 1
    assert member_get(unionid="uUNION1") == first


def test_an_identity_bound_to_someone_else_is_a_conflict_and_changes_nothing(tiers):
    member_register(phone="13812348000", identities=[{"kind": "wechat_openid", "value": "oTAKEN0001"}])

    with pytest.raises(IdentityConflict):
        member_register(
            phone="13912348000",
            name="New",
            identities=[{"kind": "wechat_openid", "value": "oTAKEN0001"}],
        )

    assert not Member.objects.filter(phone="+8613912348000").exists()


def test_future_birthdays_are_refused(tiers):
    with pytest.raises(InvalidMemberData):
        member_register(phone="13812348000", birthday=timezone.localdate() + timedelta(days=1))
    assert not Member.objects.exists()


def test_lookup_by_unknown_values_is_member_not_found():
    with pytest.raises(MemberNotFound):
        member_get(code="000000000000")
    with pytest.raises(MemberNotFound):
        member_get(openid="nobody")


@pytest.mark.django_db(transaction=True)
def test_simultaneous_registrations_of_one_phone_make_one_member(tiers):
    results, errors = [], []
    barrier = threading.Barrier(6)

    def register(i):
        try:
            barrier.wait()
            results.append(member_register(phone="13812348000", name=f"try {i}"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Member.objects.count() == 1
    assert sum(created for _m, created in results) == 1
    assert len({m.pk for m, _c in results}) == 1


def test_spend_upgrades_at_once_and_refunds_do_not_downgrade(tiers):
    member, _ = member_register(phone="13812348000")
    now = timezone.now()

    member_record_spend(member_id=member.pk, amount=Decimal("2999.99"), at=now)
    assert Member.objects.get(pk=member.pk).tier == tiers["silver"]

    upgraded = member_record_spend(member_id=member.pk, amount=Decimal("0.01"), at=now)
    assert upgraded.tier == tiers["gold"] and upgraded.tier_since == now
    change = TierChange.objects.filter(member=member, reason="spend").get()
    assert change.spend_12m == Decimal("3000.00") and change.from_tier == tiers["silver"]

    member_record_spend(member_id=member.pk, amount=Decimal("-500"), at=now)
    assert Member.objects.get(pk=member.pk).tier == tiers["gold"]
    assert member_spend_12m(member_id=member.pk) == Decimal("2500.00")
    assert MemberSpendDay.objects.filter(member=member).count() == 1  # one row per day


def test_spend_inside_a_transaction_upgrades_like_member_record_spend(tiers):
    from django.db import transaction

    from apps.members.services import member_record_spend_in_transaction

    member, _ = member_register(phone="13812348000")
    now = timezone.now()
    MemberSpendDay.objects.create(member=member, day=timezone.localdate(now) - timedelta(days=400), amount=9000)
    with transaction.atomic():
        member_record_spend_in_transaction(member_id=member.pk, amount=Decimal("1000"), at=now - timedelta(days=3))
        member_record_spend_in_transaction(member_id=member.pk, amount=Decimal("1999.99"), at=now)
    assert Member.objects.get(pk=member.pk).tier == tiers["silver"]

    with transaction.atomic():
        member_record_spend_in_transaction(member_id=member.pk, amount=Decimal("0.01"), at=now)
    upgraded = Member.objects.get(pk=member.pk)
    assert upgraded.tier == tiers["gold"] and upgraded.tier_since == now
    change = TierChange.objects.filter(member=member, reason="spend").get()
    assert change.spend_12m == Decimal("3000.00") and change.from_tier == tiers["silver"]
    assert change.to_tier == tiers["gold"] and change.changed_at == now

    with transaction.atomic():
        member_record_spend_in_transaction(member_id=member.pk, amount=Decimal("-500"), at=now)
        member_record_spend_in_transaction(member_id=member.pk, amount=Decimal("100"), at=now)
    assert Member.objects.get(pk=member.pk).tier == tiers["gold"]
    assert member_spend_12m(member_id=member.pk, at=now) == Decimal("2600.00")
    assert TierChange.objects.filter(member=member, reason="spend").count() == 1
    assert MemberSpendDay.objects.filter(member=member).count() == 3


def test_spend_older_than_twelve_months_does_not_count(tiers):
    member, _ = member_register(phone="13812348000")
    now = timezone.now()
    member_record_spend(member_id=member.pk, amount=Decimal("5000"), at=now - timedelta(days=400))
    assert member_spend_12m(member_id=member.pk, at=now) == Decimal("0.00")


def test_yearly_evaluation_downgrades_after_the_grace_period_and_upgrades_at_once(tiers):
    now = timezone.now()
    long_gold, _ = member_register(phone="13800000001")
    new_gold, _ = member_register(phone="13800000002")
    climber, _ = member_register(phone="13800000003")
    Member.objects.filter(pk=long_gold.pk).update(tier=tiers["gold"], tier_since=now - timedelta(days=400))
    Member.objects.filter(pk=new_gold.pk).update(tier=tiers["gold"], tier_since=now - timedelta(days=100))
    MemberSpendDay.objects.create(member=climber, day=timezone.localdate(), amount=Decimal("12000"))

    result = tiers_evaluate(now=now)

    assert result == {"upgraded": 1, "downgraded": 1}
    tiers_after = dict(Member.objects.values_list("phone", "tier__code"))
    assert tiers_after == {"+8613800000001": "silver", "+8613800000002": "gold", "+8613800000003": "platinum"}
    assert TierChange.objects.filter(reason="evaluation").count() == 2
    assert tiers_evaluate(now=now) == {"upgraded": 0, "downgraded": 0}  # running again changes nothing


def test_merge_moves_everything_to_the_survivor_and_keeps_a_pointer(tiers, admin_user):
    store_member, _ = member_register(phone="13812348000", name="Li Na", consents={"wechat": False})
    online, _ = member_register(phone="13912348000", identities=[{"kind": "wechat_openid", "value": "oONLINE0001"}])
    Member.objects.filter(pk=online.pk).update(phone=None)
    online.refresh_from_db()
    consent_set(member=online, channel="wechat", granted=True, at=timezone.now() - timedelta(days=30))
    member_record_spend(member_id=online.pk, amount=Decimal("3500"), at=timezone.now())

    survivor = member_merge(survivor=store_member, merged=online, operator=admin_user)

    online.refresh_from_db()
    assert online.status == "merged" and online.merged_into == survivor
    assert member_get(openid="oONLINE0001") == survivor
    assert member_get(code=online.code) == survivor  # the old card still finds the member
    assert survivor.tier == tiers["gold"]  # combined spend reaches gold
    assert Consent.objects.get(member=survivor, channel="wechat").granted is False  # the later decision wins
    assert not Identity.objects.filter(member=online).exists()
    audit = MemberMerge.objects.get()
    assert (audit.survivor, audit.merged, audit.operator) == (survivor, online, admin_user)
    assert audit.summary["identities"] == 1


def test_merge_refuses_self_and_merged_members(tiers):
    a, _ = member_register(phone="13812348000")
    b, _ = member_register(phone="13912348000")
    with pytest.raises(MergeInvalid):
        member_merge(survivor=a, merged=a)
    member_merge(survivor=a, merged=b)
    c, _ = member_register(phone="13712348000")
    with pytest.raises(MergeInvalid):
        member_merge(survivor=b, merged=c)
    with pytest.raises(MergeInvalid):
        member_merge(survivor=c, merged=b)


def test_erasure_removes_personal_data_but_keeps_sales(tiers):
    member, _ = member_register(
        phone="13812348000",
        name="Li Na",
        birthday=date(1990, 1, 1),
        identities=[{"kind": "wechat_openid", "value": "oERASE0001"}],
        consents={"wechat": True},
    )
    member_record_spend(member_id=member.pk, amount=Decimal("100"), at=timezone.now())

    member_erase(member=member)

    member.refresh_from_db()
    assert (member.phone, member.name, member.birthday, member.status) == (None, "", None, "erased")
    assert not Identity.objects.filter(member=member).exists() and not Consent.objects.filter(member=member).exists()
    assert MemberSpendDay.objects.filter(member=member).exists()
    assert ConsentEvent.objects.filter(member=member).exists()
    again, created = member_register(phone="13812348000")  # the person may come back as a new member
    assert created and again.pk != member.pk


def test_an_erased_member_is_not_found_by_any_lookup(tiers):
    member, _ = member_register(phone="13812348000", identities=[{"kind": "wechat_openid", "value": "oGONE00001"}])
    member_erase(member=member)
    with pytest.raises(MemberNotFound):
        member_get(code=member.code)
