"""The clerk's tag page: manual tags on their own store's members only."""

import pytest

from apps.insights.models import MemberTag, Tag
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(client):
    staff = staff_create(
        code="C1",
        name="Clerk",
        role=Staff.Role.CLERK,
        username="c1",
        password="pw-for-tests-1",
        stores=[StoreFactory(code="SH001")],
    )
    client.force_login(staff.user)
    return staff


def test_a_clerk_tags_and_untags_their_stores_member(client, clerk):
    member = MemberFactory(code="M1", join_store=clerk.stores.get())
    Tag.objects.create(code="vip", name="VIP")
    Tag.objects.create(code="whale", name="Whale", kind="rule", rule="bought_together")
    page = client.get("/store/members/M1/tags/").content.decode()
    assert '<option value="vip">VIP</option>' in page and "whale" not in page
    client.post("/store/members/M1/tags/", {"tag": "vip"})
    assert list(MemberTag.objects.filter(member=member).values_list("tag__code", flat=True)) == ["vip"]
    response = client.post("/store/members/M1/tags/", {"tag": "whale"}, follow=True)
    assert "computed by its rule" in response.content.decode()
    client.post("/store/members/M1/tags/", {"tag": "vip", "remove": "1"})
    assert not MemberTag.objects.exists()


def test_another_stores_member_is_refused(client, clerk):
    MemberFactory(code="M2", join_store=StoreFactory(code="OTHER"))
    Tag.objects.create(code="vip", name="VIP")
    assert client.get("/store/members/M2/tags/").status_code == 403
    assert client.post("/store/members/M2/tags/", {"tag": "vip"}).status_code == 403
    assert not MemberTag.objects.exists()
