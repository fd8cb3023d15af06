from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from apps.members.models import Member, MemberMerge
from apps.members.services import member_register
from apps.stores.models import Staff
from apps.stores.services import staff_create

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/members/member/"


@pytest.fixture
def operator(client):
    """An HQ operator (who may see full phones) logged in."""
    staff = staff_create(code="HQ1", name="Op", role=Staff.Role.HQ_OPERATOR, username="op", password="pw-for-tests-1")
    client.force_login(staff.user)
    return staff


@pytest.fixture
def console_without_phone(client, operator):
    operator.user.groups.clear()
    operator.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members").exclude(codename="view_full_phone")
    )
    return client


def test_search_by_phone_in_any_form_code_openid_and_name(client, operator, tiers):
    li, _ = member_register(
        phone="13812348000", name="Li Na", identities=[{"kind": "wechat_openid", "value": "oSEARCH001"}]
    )
    member_register(phone="13912348000", name="Wang Wei")
    for term in ("138 1234 8000", "+8613812348000", li.code, "oSEARCH001", "Li"):
        response = client.get(CHANGELIST, {"q": term})
        assert list(response.context["cl"].result_list) == [li], term


def test_phones_are_masked_without_the_permission(console_without_phone, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")
    listing = console_without_phone.get(CHANGELIST).content.decode()
    detail = console_without_phone.get(f"{CHANGELIST}{member.pk}/change/").content.decode()
    for page in (listing, detail):
        assert "138****8000" in page and "13812348000" not in page


def test_operators_with_the_permission_see_full_phones(client, operator, tiers):
    member_register(phone="13812348000", name="Li Na")
    assert "+8613812348000" in client.get(CHANGELIST).content.decode()


def test_member_list_does_not_count_the_whole_table_per_page(client, operator, tiers, django_assert_max_num_queries):
    for i in range(5):
        member_register(phone=f"1381234800{i}")
    with django_assert_max_num_queries(12):
        assert client.get(CHANGELIST).status_code == 200


def test_merge_action_asks_which_member_remains_then_merges(client, operator, tiers):
    a, _ = member_register(phone="13812348000", name="Store member")
    b, _ = member_register(phone="13912348000", identities=[{"kind": "wechat_openid", "value": "oMERGE0001"}])
    selected = {"action": "merge_members", "_selected_action": [a.pk, b.pk]}

    confirm_page = client.post(CHANGELIST, selected)
    assert confirm_page.status_code == 200 and "Merge two members" in confirm_page.content.decode()
    assert not MemberMerge.objects.exists()

    client.post(CHANGELIST, {**selected, "confirm": "yes", "survivor": a.code})

    b.refresh_from_db()
    assert b.status == "merged" and b.merged_into == a
    assert MemberMerge.objects.get().operator == operator.user


def test_merge_needs_exactly_two(client, operator, tiers):
    a, _ = member_register(phone="13812348000")
    response = client.post(CHANGELIST, {"action": "merge_members", "_selected_action": [a.pk]}, follow=True)
    assert "Select exactly two members" in response.content.decode()


def test_erase_action_confirms_then_erases(client, operator, tiers):
    member, _ = member_register(phone="13812348000", name="Li Na")
    selected = {"action": "erase_members", "_selected_action": [member.pk]}
    assert "cannot be undone" in client.post(CHANGELIST, selected).content.decode()
    client.post(CHANGELIST, {**selected, "confirm": "yes"})
    member.refresh_from_db()
    assert member.status == "erased" and member.phone is None


def test_tier_list_shows_how_members_spread(client, operator, tiers):
    for i in range(3):
        member_register(phone=f"1381234800{i}")
    gold_member, _ = member_register(phone="13912348000")
    Member.objects.filter(pk=gold_member.pk).update(tier=tiers["gold"])
    page = client.get("/admin/members/tier/").content.decode()
    assert "75.0 %" in page and "25.0 %" in page
    assert tiers["gold"].min_annual_spend == Decimal("3000")
