from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from apps.members.codes import member_code_is_valid
from apps.members.models import Member, MemberMerge
from apps.members.selectors import member_get
from apps.members.services import member_register
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.console import hidden_inputs

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
    assert "75.0%" in page and "25.0%" in page and "¥3,000.00" in page
    assert tiers["gold"].min_annual_spend == Decimal("3000")


# -- adding and editing go through the services ------------------------------------------------------------


def _post_form(client, url: str, fields: dict):
    """Post a console form as a browser does: its hidden inputs (inlines) plus the fields typed in."""
    return client.post(url, {**hidden_inputs(client.get(url)), **fields})


def _add_member(client, phone: str, name: str = "Zhang San"):
    today = timezone.localdate().isoformat()
    fields = {"phone": phone, "name": name, "birthday": "", "joined_at_0": today, "joined_at_1": "10:00:00"}
    fields |= {"join_channel": "", "join_store": "", "recruited_by": ""}
    return _post_form(client, f"{CHANGELIST}add/", fields)


def test_a_member_added_in_the_console_is_registered_and_found_by_phone_in_any_form(client, operator, tiers):
    response = _add_member(client, "138 0013 8000")

    assert response.status_code == 302
    member = Member.objects.get()
    assert member.phone == "+8613800138000"
    assert member_code_is_valid(member.code)
    assert member.tier == tiers["silver"]  # the base tier, with its history entry
    assert member.tier_changes.count() == 1
    for typed in ("138 0013 8000", "+86 138-0013-8000", "13800138000"):
        assert member_get(phone=typed) == member, typed
        assert list(client.get(CHANGELIST, {"q": typed}).context["cl"].result_list) == [member], typed


def test_adding_a_phone_that_is_registered_shows_whose_it_is(client, operator, tiers):
    existing, _ = member_register(phone="13800138000", name="Li Na")

    response = _add_member(client, "+86 138 0013 8000", name="Someone else")

    assert response.status_code == 200
    assert existing.code in str(response.context["adminform"].form.errors["phone"])
    assert Member.objects.count() == 1


def test_a_member_edited_in_the_console_keeps_a_findable_phone(client, operator, tiers):
    member, _ = member_register(phone="13800138000", name="Li Na")
    url = f"{CHANGELIST}{member.pk}/change/"

    response = _post_form(client, url, {"phone": "+86 139-0013-9000", "name": "Li Na", "birthday": "1990-05-01"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.phone == "+8613900139000" and member.birthday == date(1990, 5, 1)
    assert member_get(phone="139 0013 9000") == member


def test_a_duplicate_phone_on_edit_is_a_form_error_and_changes_nothing(client, operator, tiers):
    li, _ = member_register(phone="13800138000", name="Li Na")
    wang, _ = member_register(phone="13900139000", name="Wang Wei")
    url = f"{CHANGELIST}{wang.pk}/change/"

    response = _post_form(client, url, {"phone": "138 0013 8000", "name": "Wang Wei", "birthday": ""})

    assert response.status_code == 200
    assert li.code in str(response.context["adminform"].form.errors["phone"])
    wang.refresh_from_db()
    assert wang.phone == "+8613900139000"
    assert member_get(phone="138 0013 8000") == li


def test_a_phone_that_is_not_a_number_is_a_form_error(client, operator, tiers):
    response = _add_member(client, "12345")
    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    assert not Member.objects.exists()


def test_an_operator_who_sees_masked_phones_edits_the_name_and_the_phone_stays(console_without_phone, tiers):
    member, _ = member_register(phone="13800138000", name="Li Na")
    url = f"{CHANGELIST}{member.pk}/change/"

    response = _post_form(console_without_phone, url, {"name": "Li Na (Shanghai)", "birthday": ""})

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.name, member.phone) == ("Li Na (Shanghai)", "+8613800138000")
