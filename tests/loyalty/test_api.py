import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.loyalty.models import Coupon, PointsEntry
from apps.loyalty.selectors import ledger_mismatches
from apps.loyalty.services import coupon_issue, points_earn
from tests.factories import MemberFactory, StoreFactory
from tests.loyalty.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db):
    member = MemberFactory(code="M000000001")
    points_earn(member_id=member.pk, points=1000, reference="order 1", idempotency_key="seed")
    return member


def _redeem(api, key, reward="mall50", code="M000000001"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"/api/v1/members/{code}/points/redeem", {"reward": reward}, format="json", **headers)


def test_points_summary(api, member):
    body = api.get("/api/v1/members/M000000001/points").json()
    assert body["balance"] == 1000
    assert [e["points"] for e in body["expiring"]] == [1000]
    assert body["entries"][0] == {
        "kind": "earn",
        "points": 1000,
        "balance_after": 1000,
        "reference": "order 1",
        "created_at": body["entries"][0]["created_at"],
    }
    assert api.get("/api/v1/members/NOPE/points").json()["code"] == "member_not_found"


def test_points_mall_exchange_is_idempotent(api, member):
    CouponTemplateFactory(code="mall50", value="50", points_cost=400, per_member_limit=5)

    first = _redeem(api, "k-1")
    again = _redeem(api, "k-1")

    assert first.status_code == 201 and again.status_code == 201
    assert first.json() == again.json() and first.json()["template"] == "mall50"
    member.refresh_from_db()
    assert member.points_balance == 600 and Coupon.objects.filter(member=member).count() == 1
    conflict = _redeem(api, "k-1", reward="other")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"


def test_points_mall_refusals(api, member):
    CouponTemplateFactory(code="mall50", value="50", points_cost=400, per_member_limit=1)
    CouponTemplateFactory(code="pricey", value="500", points_cost=5000)
    CouponTemplateFactory(code="free", value="5")  # not a points-mall reward

    assert _redeem(api, None).json()["code"] == "validation_error"
    assert _redeem(api, "a", reward="pricey").json()["code"] == "insufficient_points"
    assert _redeem(api, "b", reward="free").json()["code"] == "reward_unavailable"
    assert _redeem(api, "c").status_code == 201
    limit = _redeem(api, "d")
    assert limit.status_code == 422 and limit.json()["code"] == "reward_unavailable"
    member.refresh_from_db()
    assert member.points_balance == 600  # the refused exchange spent nothing
    assert ledger_mismatches() == []


def test_coupons_by_status(api, member):
    template = CouponTemplateFactory(per_member_limit=3)
    kept, used = coupon_issue(template=template, member=member), coupon_issue(template=template, member=member)
    store = StoreFactory(code="SH001").code
    api.post(f"/api/v1/coupons/{used.code}/redeem", {"store": store, "member": member.code}, format="json")
    assert [c["code"] for c in api.get("/api/v1/members/M000000001/coupons", {"status": "available"}).json()] == [
        kept.code
    ]
    assert [c["code"] for c in api.get("/api/v1/members/M000000001/coupons", {"status": "redeemed"}).json()] == [
        used.code
    ]
    assert api.get("/api/v1/members/M000000001/coupons", {"status": "x"}).status_code == 400


def test_coupon_redeem_once(api, member):
    StoreFactory(code="SH001")
    coupon = coupon_issue(template=CouponTemplateFactory(), member=member)
    first = api.post(
        f"/api/v1/coupons/{coupon.code}/redeem",
        {"store": "SH001", "member": member.code, "order": "O-1"},
        format="json",
    )
    again = api.post(f"/api/v1/coupons/{coupon.code}/redeem", {"store": "SH001", "member": member.code}, format="json")
    assert (
        first.status_code == 200 and first.json()["status"] == "redeemed" and first.json()["redeemed_store"] == "SH001"
    )
    assert again.status_code == 409 and again.json()["code"] == "coupon_already_redeemed"
    unknown = api.post("/api/v1/coupons/NOSUCH/redeem", {"store": "SH001"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "coupon_not_found"


def test_redeeming_another_members_coupon_is_refused(api, member):
    StoreFactory(code="SH001")
    theirs = coupon_issue(template=CouponTemplateFactory(), member=MemberFactory(code="M000000005"))

    for body in ({"store": "SH001"}, {"store": "SH001", "member": member.code}):
        response = api.post(f"/api/v1/coupons/{theirs.code}/redeem", body, format="json")
        assert response.status_code == 422 and response.json()["code"] == "coupon_not_yours"
    theirs.refresh_from_db()
    assert theirs.status == Coupon.Status.ISSUED

    by_phone = api.post(
        f"/api/v1/coupons/{theirs.code}/redeem", {"store": "SH001", "member": theirs.member.phone}, format="json"
    )
    assert by_phone.status_code == 200 and by_phone.json()["status"] == "redeemed"


def test_a_coupon_below_its_minimum_spend_is_refused_until_the_amount_reaches_it(api, member):
    StoreFactory(code="SH001")
    fifty_off_500 = coupon_issue(
        template=CouponTemplateFactory(value=Decimal("50.00"), min_spend=Decimal("500.00")), member=member
    )
    url = f"/api/v1/coupons/{fifty_off_500.code}/redeem"

    for body in (
        {"store": "SH001", "member": member.code},
        {"store": "SH001", "member": member.code, "amount": "499.99"},
    ):
        response = api.post(url, body, format="json")
        assert response.status_code == 422 and response.json()["code"] == "coupon_min_spend"
        assert "500.00" in response.json()["detail"]
    fifty_off_500.refresh_from_db()
    assert fifty_off_500.status == Coupon.Status.ISSUED

    enough = api.post(url, {"store": "SH001", "member": member.code, "amount": "500.00"}, format="json")
    assert enough.status_code == 200 and enough.json()["status"] == "redeemed"


@pytest.mark.django_db(transaction=True)
def test_simultaneous_redeem_requests_for_one_coupon(api_key):
    StoreFactory(code="SH001")
    coupon = coupon_issue(template=CouponTemplateFactory(), member=MemberFactory(code="M000000009"))
    statuses = []
    barrier = threading.Barrier(10)

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        try:
            barrier.wait()
            statuses.append(
                client.post(
                    f"/api/v1/coupons/{coupon.code}/redeem", {"store": "SH001", "member": "M000000009"}, format="json"
                ).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 9


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_sent_at_once_spends_once(api_key):
    member = MemberFactory(code="M000000002")
    points_earn(member_id=member.pk, points=1000, reference="x", idempotency_key="seed2")
    CouponTemplateFactory(code="mall50", value="50", points_cost=400, per_member_limit=5)
    bodies = []
    barrier = threading.Barrier(5)

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        try:
            barrier.wait()
            response = _redeem(client, "same-key", code="M000000002")
            bodies.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    member.refresh_from_db()
    assert member.points_balance == 600
    assert PointsEntry.objects.filter(member=member, kind="redeem").count() == 1
    assert {status for status, _ in bodies} == {201} and len({code for _, code in bodies}) == 1
