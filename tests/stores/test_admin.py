import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from apps.stores.models import Staff
from apps.stores.services import staff_create, staff_set_role
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


def _staff(role: str, username: str):
    return staff_create(
        code=username.upper(),
        name=username,
        role=role,
        username=username,
        password="pw-for-tests-1",
        stores=[StoreFactory(code="SH001")],
    )


@pytest.mark.parametrize("role", [Staff.Role.CLERK, Staff.Role.GUIDE, Staff.Role.STORE_MANAGER])
def test_store_staff_are_refused_by_the_admin(client, role):
    staff = _staff(role, "shopfloor")
    client.force_login(staff.user)

    response = client.get("/admin/")

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_clerk_flagged_is_staff_by_mistake_is_still_refused(client):
    clerk = _staff(Staff.Role.CLERK, "clerk")
    clerk.user.is_staff = True
    clerk.user.save()
    client.force_login(clerk.user)
    assert client.get("/admin/").status_code == 302
    client.logout()
    response = client.post("/admin/login/", {"username": "clerk", "password": "pw-for-tests-1"})
    assert response.status_code == 200  # the login form again, with the reason
    assert "for head-office operators" in response.content.decode()
    assert client.get("/admin/stores/store/").status_code == 302


def test_hq_operator_uses_the_console_with_role_permissions(client):
    staff = _staff(Staff.Role.HQ_OPERATOR, "hq")
    client.force_login(staff.user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/stores/store/").status_code == 200
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200


def test_demoting_an_operator_to_clerk_removes_console_access(client):
    staff = _staff(Staff.Role.HQ_OPERATOR, "hq")
    staff_set_role(staff=staff, role=Staff.Role.CLERK)
    client.force_login(staff.user)
    assert client.get("/admin/").status_code == 302
    assert list(staff.user.groups.values_list("name", flat=True)) == ["Clerk"]


def test_role_groups_hold_the_policy_permissions():
    hq = Group.objects.get(name="HQ operator")
    clerk = Group.objects.get(name="Clerk")
    hq_perms = set(hq.permissions.values_list("content_type__app_label", "codename"))
    assert ("stores", "change_store") in hq_perms and ("django_celery_beat", "change_periodictask") in hq_perms
    assert set(clerk.permissions.values_list("codename", flat=True)) == {"use_store_pages"}


def test_admin_import_page_imports_all_or_nothing(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("c.csv", b"code,name,kind\npos,POS,pos\nx,X,fax\n", content_type="text/csv")
    response = admin_client.post("/admin/stores/channel/import-file/", {"file": bad})
    assert response.status_code == 200
    assert b"<td>3</td>" in response.content  # the bad line, by number
    assert b"fax" in response.content
    from apps.stores.models import Channel

    assert not Channel.objects.exists()

    good = SimpleUploadedFile("c.csv", b"code,name,kind\npos,POS,pos\n", content_type="text/csv")
    response = admin_client.post("/admin/stores/channel/import-file/", {"file": good})
    assert response.status_code == 302
    assert Channel.objects.filter(code="pos").exists()


def test_admin_changelists_render(admin_client):
    StoreFactory(code="SH001")
    for url in ["/admin/stores/store/", "/admin/stores/channel/", "/admin/stores/staff/", "/admin/stores/apikey/"]:
        assert admin_client.get(url).status_code == 200, url


# -- staff made and edited in the console go through the staff services ------------------------------------


STAFF = "/admin/stores/staff/"


def _login_as(username: str) -> Client:
    browser = Client()
    browser.force_login(get_user_model().objects.get(username=username))
    return browser


def _staff_add(admin_client, **fields):
    data = {"code": "C1", "name": "Chen", "role": "clerk", "stores": [], "user": "", "username": "", "password": ""}
    return admin_client.post(f"{STAFF}add/", data | fields)


def _staff_edit(admin_client, staff: Staff, **fields):
    data = {"name": staff.name, "role": staff.role, "stores": [s.pk for s in staff.stores.all()], "is_active": "on"}
    return admin_client.post(f"{STAFF}{staff.pk}/change/", data | fields)


def test_a_clerk_made_in_the_console_from_a_new_login_uses_the_store_pages(admin_client):
    store = StoreFactory(code="SH001")
    # The operator first makes the login (the console's user page), then the staff record with role and store.
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "chen",
            "password1": "a-long-pass-1234",
            "password2": "a-long-pass-1234",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    login = get_user_model().objects.get(username="chen")

    response = _staff_add(admin_client, user=login.pk, stores=[store.pk])

    assert response.status_code == 302
    clerk = _login_as("chen")
    assert clerk.get("/store/").status_code == 200
    assert clerk.get("/admin/").status_code == 302
    assert list(login.groups.values_list("name", flat=True)) == ["Clerk"]


def test_a_staff_member_made_in_the_console_with_a_new_username_gets_the_role(admin_client):
    store = StoreFactory(code="SH001")

    response = _staff_add(admin_client, username="wang", password="a-long-pass-1234", stores=[store.pk])

    assert response.status_code == 302
    login = Staff.objects.get(code="C1").user
    assert login.username == "wang" and login.check_password("a-long-pass-1234")
    assert _login_as("wang").get("/store/").status_code == 200


def test_an_operator_made_in_the_console_loses_the_console_when_demoted_and_regains_it(admin_client):
    store = StoreFactory(code="SH001")
    _staff_add(admin_client, role="hq_operator", username="li", password="a-long-pass-1234", stores=[store.pk])
    staff = Staff.objects.get(code="C1")
    assert _login_as("li").get("/admin/").status_code == 200

    assert _staff_edit(admin_client, staff, role="clerk").status_code == 302

    assert _login_as("li").get("/admin/").status_code == 302
    assert _login_as("li").get("/store/").status_code == 200
    assert list(staff.user.groups.values_list("name", flat=True)) == ["Clerk"]  # the operator group is gone

    assert _staff_edit(admin_client, staff, role="hq_operator").status_code == 302

    assert _login_as("li").get("/admin/").status_code == 200
    assert list(staff.user.groups.values_list("name", flat=True)) == ["HQ operator"]


def test_a_taken_login_or_username_is_a_form_error(admin_client):
    taken = _staff(Staff.Role.CLERK, "zhao")

    by_login = _staff_add(admin_client, code="C2", user=taken.user.pk)
    by_username = _staff_add(admin_client, code="C3", username="zhao", password="a-long-pass-1234")

    assert "user" in by_login.context["adminform"].form.errors
    assert "username" in by_username.context["adminform"].form.errors
    assert Staff.objects.count() == 1


def test_an_operator_sets_a_guides_wecom_userid_and_one_account_belongs_to_one_guide(admin_client):
    guide = StaffFactory(code="G1", role="guide")
    other = StaffFactory(code="G2", role="guide", wecom_userid="liuyang")

    assert _staff_edit(admin_client, guide, wecom_userid="wangfang").status_code == 302
    guide.refresh_from_db()
    assert guide.wecom_userid == "wangfang"

    refused = _staff_edit(admin_client, guide, wecom_userid="liuyang")
    assert refused.status_code == 200 and "belongs to another staff member" in refused.content.decode()
    guide.refresh_from_db()
    assert (guide.wecom_userid, other.wecom_userid) == ("wangfang", "liuyang")
