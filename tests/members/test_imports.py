import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.imports import ImportFailed, import_file
from apps.members.models import Consent, Identity, Member, Tier, TierChange
from apps.members.services import consent_set, member_register
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

HEADER = "phone,name,birthday,joined_at,join_store,wechat_openid,wechat_unionid,marketing_consent\n"


def _import(resource, text):
    return import_file(resource, io.BytesIO(text.encode()), "f.csv")


def test_tier_import_and_reimport(db):
    text = (
        "code,name,rank,min_annual_spend,points_per_yuan,discount_percent\n"
        "silver,Silver,1,0,1,0\ngold,Gold,2,3000,2,5\nplatinum,Platinum,3,10000,3,10\n"
    )
    assert _import("tiers", text).created == 3
    again = _import("tiers", text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    swapped = text.replace("gold,Gold,2", "gold,Gold,3").replace("platinum,Platinum,3", "platinum,Platinum,2")
    assert _import("tiers", swapped).updated == 2
    assert dict(Tier.objects.values_list("code", "rank")) == {"silver": 1, "gold": 3, "platinum": 2}


def test_tier_import_bad_rows(db):
    bad = (
        "code,name,rank,min_annual_spend,points_per_yuan,discount_percent\n"
        "a,A,1,-5,1,0\nb,B,x,0,1,0\nc,C,2,0,1,150\nd,D,2,0,1,0\n"
    )
    with pytest.raises(ImportFailed) as caught:
        _import("tiers", bad)
    assert [e.line for e in caught.value.row_errors] == [2, 3, 4]
    assert not Tier.objects.exists()


def test_member_import_creates_members_identities_consent_and_is_a_noop_again(tiers):
    StoreFactory(code="SH001")
    text = HEADER + (
        "13812348000,Li Na,1990-05-01,2025-03-01T10:00:00+08:00,SH001,oIMP0000001,uIMP1,yes\n"
        "+86 139 1234 8000,Wang Wei,,2025-04-01,,,,\n"
    )

    result = _import("members", text)

    assert (result.created, result.updated) == (2, 0)
    li = Member.objects.get(phone="+8613812348000")
    assert (li.name, str(li.birthday), li.join_store.code, li.tier.code) == ("Li Na", "1990-05-01", "SH001", "silver")
    assert set(Identity.objects.filter(member=li).values_list("kind", "value")) == {
        ("wechat_openid", "oIMP0000001"),
        ("wechat_unionid", "uIMP1"),
    }
    assert set(Consent.objects.filter(member=li).values_list("channel", "granted")) == {("wechat", True), ("sms", True)}
    assert not TierChange.objects.exists()  # a first tier is not a change: no history row per imported member
    before = list(Member.objects.order_by("pk").values())

    again = _import("members", text)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert list(Member.objects.order_by("pk").values()) == before
    assert Identity.objects.count() == 2


def test_member_import_never_overrides_a_later_consent_decision(tiers):
    member, _ = member_register(phone="13812348000")
    consent_set(member=member, channel="wechat", granted=False, at=timezone.now() - timedelta(days=1))
    _import("members", HEADER + "13812348000,Li Na,,,,,,yes\n")
    assert Consent.objects.get(member=member, channel="wechat").granted is False


def test_member_import_reports_every_bad_row_and_imports_nothing(tiers):
    StoreFactory(code="SH001")
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    text = HEADER + (
        "13812348000,Good,,,SH001,,,\n"  # 2 ok
        "12345,Bad phone,,,,,,\n"  # 3
        f"13912348000,Future,{future},,,,,\n"  # 4
        "13712348000,Store,,,NOPE,,,\n"  # 5
        "+8613812348000,Duplicate,,,,,,\n"  # 6 same phone as line 2
        "13612348000,Consent,,,,,,perhaps\n"  # 7
        "13512348000,Joined,,not a date,,,,\n"  # 8
    )
    with pytest.raises(ImportFailed) as caught:
        _import("members", text)
    assert [e.line for e in caught.value.row_errors] == [3, 4, 5, 6, 7, 8]
    assert not Member.objects.exists()


def test_member_import_refuses_an_identity_of_another_member(tiers):
    member_register(phone="13812348000", identities=[{"kind": "wechat_openid", "value": "oTAKEN0001"}])
    with pytest.raises(ImportFailed) as caught:
        _import("members", HEADER + "13912348000,New,,,,,,\n13712348000,Thief,,,,oTAKEN0001,,\n")
    assert [(e.line, e.column) for e in caught.value.row_errors] == [(3, "wechat_openid")]
    assert Member.objects.count() == 1
