import pytest

from apps.members.models import Identity, Member
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def test_register_then_register_again_returns_the_same_member(api, tiers):
    store = StoreFactory(code="SH001")
    guide = StaffFactory(code="G01", stores=[store])
    body = {
        "phone": "138 1234 8000",
        "name": "Li Na",
        "birthday": "1990-05-01",
        "store": "SH001",
        "guide": "G01",
        "identities": [{"kind": "wechat_openid", "value": "oAPI000001"}],
        "consents": {"wechat": True, "sms": False},
    }

    first = api.post("/api/v1/members", body, format="json")
    again = api.post("/api/v1/members", {"phone": "13812348000", "name": "Other"}, format="json")

    assert first.status_code == 201 and again.status_code == 200
    data = first.json()
    assert data == {
        "code": data["code"],
        "phone_masked": "138****8000",
        "name": "Li Na",
        "tier": {"code": "silver", "name": "Silver"},
        "points_balance": 0,
        "joined_at": data["joined_at"],
        "join_store": "SH001",
        "join_channel": "mall",
    }
    assert again.json()["code"] == data["code"] and again.json()["name"] == "Li Na"
    member = Member.objects.get()
    assert member.recruited_by == guide


def test_register_with_an_openid_of_another_member_is_409_and_changes_nothing(api, tiers):
    api.post(
        "/api/v1/members",
        {"phone": "13812348000", "identities": [{"kind": "wechat_openid", "value": "oX1234567"}]},
        format="json",
    )
    response = api.post(
        "/api/v1/members",
        {"phone": "13912348000", "identities": [{"kind": "wechat_openid", "value": "oX1234567"}]},
        format="json",
    )
    _problem(response, 409, "identity_conflict")
    assert Member.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"phone": "12345"}, "invalid_phone"),
        ({}, "validation_error"),
        ({"phone": "13812348000", "birthday": "2990-01-01"}, "invalid_member"),
        ({"phone": "13812348000", "identities": [{"kind": "fax", "value": "1"}]}, "validation_error"),
        ({"phone": "13812348000", "store": "NOPE"}, "invalid_member"),
        ({"phone": "13812348000", "consents": {"email": True}}, "validation_error"),
    ],
)
def test_bad_registrations_are_refused_with_a_code(api, tiers, body, code):
    response = api.post("/api/v1/members", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Member.objects.exists()


def test_channel_customer_ids_belong_to_the_calling_channel(api, tiers):
    api.post(
        "/api/v1/members",
        {"phone": "13812348000", "identities": [{"kind": "channel_customer", "value": "C-1"}]},
        format="json",
    )
    identity = Identity.objects.get()
    assert (identity.kind, identity.channel.code) == ("channel_customer", "mall")


def test_lookup_by_phone_code_openid_unionid(api, tiers):
    created = api.post(
        "/api/v1/members",
        {
            "phone": "13812348000",
            "identities": [
                {"kind": "wechat_openid", "value": "oLOOK00001"},
                {"kind": "wechat_unionid", "value": "uLOOK1"},
            ],
        },
        format="json",
    ).json()
    for params in (
        {"phone": "+86 138 1234 8000"},
        {"code": created["code"]},
        {"openid": "oLOOK00001"},
        {"unionid": "uLOOK1"},
    ):
        response = api.get("/api/v1/members/lookup", params)
        assert response.status_code == 200 and response.json()["code"] == created["code"], params


def test_lookup_errors(api, tiers):
    _problem(api.get("/api/v1/members/lookup", {"phone": "13900000000"}), 404, "member_not_found")
    _problem(api.get("/api/v1/members/lookup", {"openid": "nobody"}), 404, "member_not_found")
    _problem(api.get("/api/v1/members/lookup", {}), 400, "validation_error")
    _problem(api.get("/api/v1/members/lookup", {"phone": "x", "code": "y"}), 400, "validation_error")


def test_lookup_is_a_constant_number_of_queries(api, tiers, django_assert_max_num_queries):
    code = api.post("/api/v1/members", {"phone": "13812348000", "store": None}, format="json").json()["code"]
    with django_assert_max_num_queries(2):  # the api key, the member with its tier, store and channel
        assert api.get("/api/v1/members/lookup", {"code": code}).status_code == 200


def test_lookup_answers_the_same_body_as_registration(api, tiers):
    registered = api.post(
        "/api/v1/members", {"phone": "13812348000", "name": "Li Na", "store": None}, format="json"
    ).json()
    assert api.get("/api/v1/members/lookup", {"code": registered["code"]}).json() == registered


def test_lookup_of_a_merged_member_answers_for_the_survivor(api, tiers):
    from apps.members.models import Member
    from apps.members.services import member_merge

    a = api.post("/api/v1/members", {"phone": "13812348000"}, format="json").json()
    b = api.post("/api/v1/members", {"phone": "13912348000"}, format="json").json()
    member_merge(survivor=Member.objects.get(code=a["code"]), merged=Member.objects.get(code=b["code"]))
    assert api.get("/api/v1/members/lookup", {"code": b["code"]}).json()["code"] == a["code"]
