"""The one member resolver and the one "card code or phone?" rule every edge uses."""

import pytest

from apps.members.codes import luhn_check_digit
from apps.members.errors import MemberNotFound
from apps.members.models import Identity, Member
from apps.members.selectors import member_card, member_find, member_get, member_lookup_of
from tests.factories import MemberFactory

VALID_CODE = "40000000000" + luhn_check_digit("40000000000")


@pytest.mark.parametrize(
    ("typed", "lookup"),
    [
        (VALID_CODE, {"code": VALID_CODE}),
        (f"{VALID_CODE[:4]} {VALID_CODE[4:8]} {VALID_CODE[8:]}", {"code": VALID_CODE}),  # as printed on the card
        (f"{VALID_CODE[:4]}-{VALID_CODE[4:8]}-{VALID_CODE[8:]}", {"code": VALID_CODE}),
        ("123456789012", {"code": "123456789012"}),  # no valid check digit, not a phone: a code matching nobody
        ("13800138000", {"phone": "+8613800138000"}),
        ("138 0013 8000", {"phone": "+8613800138000"}),
        ("+86 138-0013-8000", {"phone": "+8613800138000"}),
        ("008613800138000", {"phone": "+8613800138000"}),
        ("(86) 13800138000", {"phone": "+8613800138000"}),
        (" M000000001 ", {"code": "M000000001"}),  # an older code as typed
        ("", {"code": ""}),
    ],
)
def test_code_or_phone(settings, typed, lookup):
    settings.PHONE_REGION = "CN"
    assert member_lookup_of(typed) == lookup


def test_a_leading_plus_or_zero_is_never_a_card_code(settings):
    settings.PHONE_REGION = "CN"
    zero = "07551234567" + luhn_check_digit("07551234567")  # a valid check digit, but cards never start with 0
    assert member_lookup_of(zero) == {"phone": "+86" + zero[1:]}  # a Shenzhen landline
    assert member_lookup_of("+" + VALID_CODE) == {"code": "+" + VALID_CODE}  # a + is a phone; this one is not


@pytest.fixture
def merged_pair(db):
    survivor = MemberFactory(code=VALID_CODE, phone="+8613900139000")
    old = MemberFactory(code="M000000777", phone="+8613800138000")
    Identity.objects.create(member=old, kind=Identity.Kind.WECHAT_OPENID, value="o-old")
    Identity.objects.create(member=old, kind=Identity.Kind.WECHAT_UNIONID, value="u-old")
    Member.objects.filter(pk=old.pk).update(status=Member.Status.MERGED, merged_into=survivor)
    return survivor, old


@pytest.mark.parametrize(
    "lookup",
    [{"code": "M000000777"}, {"phone": "138 0013 8000"}, {"openid": "o-old"}, {"unionid": " u-old "}],
)
def test_the_resolver_follows_merges_whatever_names_the_member(merged_pair, lookup):
    survivor, _old = merged_pair
    assert member_get(**lookup).pk == survivor.pk
    assert member_card(**lookup)["code"] == survivor.code


@pytest.mark.parametrize("typed", ["M000000777", "+86 138 0013 8000", VALID_CODE, f"{VALID_CODE[:6]} {VALID_CODE[6:]}"])
def test_what_a_clerk_types_finds_the_surviving_member(merged_pair, typed):
    assert member_find(text=typed).pk == merged_pair[0].pk


def test_an_erased_member_is_found_by_nothing(merged_pair):
    survivor, _old = merged_pair
    Member.objects.filter(pk=survivor.pk).update(status=Member.Status.ERASED)
    for lookup in ({"code": "M000000777"}, {"phone": "13900139000"}, {"openid": "o-old"}):
        with pytest.raises(MemberNotFound):
            member_get(**lookup)
        with pytest.raises(MemberNotFound):
            member_card(**lookup)
