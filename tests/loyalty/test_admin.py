import pytest

from apps.loyalty.models import Coupon, PointsEntry
from apps.loyalty.services import coupon_issue, points_earn
from apps.members.models import Member
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import MemberFactory
from tests.loyalty.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq(client):
    staff = staff_create(code="HQ1", name="Op", role=Staff.Role.HQ_OPERATOR, username="op", password="pw-for-tests-1")
    client.force_login(staff.user)
    return staff


def test_adjusting_points_needs_the_permission(client):
    staff = staff_create(code="HQ2", name="Op2", role=Staff.Role.HQ_OPERATOR, username="op2", password="pw-for-tests-1")
    staff.user.groups.clear()
    staff.user.user_permissions.clear()
    client.force_login(staff.user)
    assert client.get("/admin/loyalty/pointsentry/adjust/").status_code in (302, 403)


def test_an_adjustment_is_booked_once_with_reason_and_operator(client, hq):
    member = MemberFactory(code="123456789012")
    page = client.get("/admin/loyalty/pointsentry/adjust/")
    request_id = page.context["form"].initial["request_id"]
    form = {"member": member.code, "points": 50, "reason": "apology for a late delivery", "request_id": request_id}

    client.post("/admin/loyalty/pointsentry/adjust/", form)
    client.post("/admin/loyalty/pointsentry/adjust/", form)  # the form submitted twice

    entry = PointsEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.reason, entry.created_by) == (
        "adjust",
        50,
        "apology for a late delivery",
        hq.user,
    )
    assert Member.objects.get(pk=member.pk).points_balance == 50
    refused = client.post(
        "/admin/loyalty/pointsentry/adjust/", {**form, "points": -100, "request_id": "another"}
    ).content.decode()
    assert "only 50 points" in refused


def test_ledger_check_page(client, hq):
    member = MemberFactory()
    points_earn(member_id=member.pk, points=10, reference="x", idempotency_key="x")
    assert "Every member" in client.get("/admin/loyalty/pointsentry/check/").content.decode()
    Member.objects.filter(pk=member.pk).update(points_balance=99)  # what a bug would do
    assert member.code in client.get("/admin/loyalty/pointsentry/check/").content.decode()


def test_templates_show_counts_and_issue_to_pasted_members(client, hq):
    template = CouponTemplateFactory(code="welcome", per_member_limit=1)
    a, b = MemberFactory(code="100000000001"), MemberFactory(code="100000000002", phone="+8613812348000")
    coupon_issue(template=template, member=a)

    client.post(
        "/admin/loyalty/coupontemplate/",
        {"action": "issue_to_members", "_selected_action": [template.pk], "members": f"{a.code}\n138 1234 8000"},
    )

    assert set(Coupon.objects.values_list("member__code", flat=True)) == {a.code, b.code}
    page = client.get("/admin/loyalty/coupontemplate/").content.decode()
    assert '<td class="field-issued">2</td>' in page


def test_coupon_search_by_code_member_or_phone(client, hq):
    member = MemberFactory(code="100000000003", phone="+8613912348000")
    coupon = coupon_issue(template=CouponTemplateFactory(), member=member)
    for term in (coupon.code.lower(), member.code, "13912348000"):
        assert list(client.get("/admin/loyalty/coupon/", {"q": term}).context["cl"].result_list) == [coupon]
