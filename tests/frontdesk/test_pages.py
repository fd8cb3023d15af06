import pytest

from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


def _staff(role=Staff.Role.CLERK, stores=("SH001",)):
    return staff_create(
        code="C1",
        name="Clerk",
        role=role,
        username="c1",
        password="pw-for-tests-1",
        stores=[StoreFactory(code=c) for c in stores],
    )


def test_a_clerk_cannot_switch_to_another_stores_pages(client):
    staff = _staff()
    StoreFactory(code="OTHER")
    client.force_login(staff.user)

    response = client.post("/store/choose-store/", {"store": "OTHER"}, follow=True)

    assert "You do not work in that store." in response.content.decode()
    assert response.context["request"].store.code == "SH001"


def test_store_pages_need_csrf(client):
    from django.test import Client

    staff = _staff(stores=("SH001", "SH002"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff.user)
    assert strict.post("/store/choose-store/", {"store": "SH002"}).status_code == 403


def test_a_plain_user_without_staff_record_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("someone", password="pw-for-tests-1")
    client.force_login(user)
    assert client.get("/store/").status_code == 403


def test_sessions_expire(settings):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
