import pytest
from django.contrib.auth.models import Group

from apps.stores.models import Staff
from apps.stores.services import staff_create, staff_set_role
from tests.factories import StoreFactory

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
