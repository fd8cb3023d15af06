import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.catalog.models import Category
from apps.loyalty.errors import CouponAlreadyRedeemed, CouponExpired, CouponIssueRefused, CouponWrongStore
from apps.loyalty.models import Coupon
from apps.loyalty.selectors import Cart, CartLine, coupons_evaluate
from apps.loyalty.services import coupon_issue, coupon_redeem, coupon_restore, coupons_expire_due, coupons_issue_bulk
from apps.members.services import member_merge
from tests.factories import ChannelFactory, MemberFactory, StoreFactory
from tests.loyalty.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    shoes = Category.objects.create(code="footwear", name="Footwear")
    running = Category.objects.create(code="running", name="Running", parent=shoes)
    bags = Category.objects.create(code="bags", name="Bags")
    return {
        "store": StoreFactory(code="SH001"),
        "other_store": StoreFactory(code="HZ001"),
        "pos": ChannelFactory(code="pos", kind="pos"),
        "mall": ChannelFactory(code="mall", kind="mall"),
        "running": running,
        "shoes": shoes,
        "bags": bags,
    }


def _cart(member, shop, *lines, channel="pos"):
    return Cart(
        member_id=member.pk if member else None,
        store_id=shop["store"].pk,
        channel_id=shop[channel].pk,
        lines=[
            CartLine(sku_id=i, category_id=cat.pk, quantity=q, unit_price=Decimal(p))
            for i, (cat, q, p) in enumerate(lines)
        ],
    )


def test_coupon_codes_are_long_random_and_unique(shop):
    template = CouponTemplateFactory(per_member_limit=None)
    codes = {coupon_issue(template=template, member=MemberFactory()).code for _ in range(50)}
    assert len(codes) == 50 and all(len(c) == 16 for c in codes)


def test_amount_and_capped_percent_discounts(shop):
    member = MemberFactory()
    twenty_off = coupon_issue(template=CouponTemplateFactory(code="a20", value="20", min_spend="100"), member=member)
    ten_pct = coupon_issue(
        template=CouponTemplateFactory(code="p10", kind="percent", value="10", max_discount="15", is_stackable=True),
        member=member,
    )
    cart = _cart(member, shop, (shop["running"], 1, "300.00"))

    [evaluation] = coupons_evaluate(cart=cart, codes=[ten_pct.code])
    assert evaluation.applies and evaluation.discount == Decimal("15.00")  # 30 capped at 15
    [evaluation] = coupons_evaluate(cart=cart, codes=[twenty_off.code])
    assert evaluation.applies and evaluation.discount == Decimal("20")


def test_every_reason_a_coupon_does_not_apply(shop):
    member, other = MemberFactory(), MemberFactory()
    now = timezone.now()
    make = lambda code, **kw: coupon_issue(template=CouponTemplateFactory(code=code, **kw), member=member)  # noqa: E731
    used = make("used")
    coupon_redeem(code=used.code, store_id=shop["store"].pk, member_id=member.pk)
    expired = make("old")
    Coupon.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(days=1))
    later = make("later")
    Coupon.objects.filter(pk=later.pk).update(valid_from=now + timedelta(days=2))
    theirs = coupon_issue(template=CouponTemplateFactory(code="theirs"), member=other)
    big = make("big", min_spend="500")
    elsewhere = make("elsewhere", stores=[shop["other_store"]])
    online = make("online", channels=[shop["mall"]])
    bags_only = make("bags", categories=[shop["bags"]])
    cart = _cart(member, shop, (shop["running"], 2, "100.00"))

    results = coupons_evaluate(
        cart=cart,
        codes=[
            used.code,
            expired.code,
            later.code,
            theirs.code,
            big.code,
            elsewhere.code,
            online.code,
            bags_only.code,
            "NOSUCHCODE",
        ],
    )

    assert [r.reason_code for r in results] == [
        "coupon_already_redeemed",
        "coupon_expired",
        "coupon_not_yet_valid",
        "coupon_not_yours",
        "coupon_min_spend",
        "coupon_wrong_store",
        "coupon_wrong_channel",
        "coupon_wrong_category",
        "coupon_not_found",
    ]
    assert not any(r.applies for r in results) and all(r.reason for r in results)


def test_category_coupons_discount_only_their_lines_including_subcategories(shop):
    member = MemberFactory()
    shoes_coupon = coupon_issue(
        template=CouponTemplateFactory(code="shoes10", kind="percent", value="10", categories=[shop["shoes"]]),
        member=member,
    )
    cart = _cart(member, shop, (shop["running"], 1, "200.00"), (shop["bags"], 1, "100.00"))
    [evaluation] = coupons_evaluate(cart=cart, codes=[shoes_coupon.code])
    assert evaluation.discount == Decimal("20.00") and evaluation.line_indexes == [0]


def test_non_stackable_coupons_do_not_combine_and_discounts_never_exceed_the_cart(shop):
    member = MemberFactory()
    first = coupon_issue(template=CouponTemplateFactory(code="x50", value="50"), member=member)
    second = coupon_issue(template=CouponTemplateFactory(code="y50", value="50"), member=member)
    s1 = coupon_issue(template=CouponTemplateFactory(code="s1", value="40", is_stackable=True), member=member)
    s2 = coupon_issue(template=CouponTemplateFactory(code="s2", value="40", is_stackable=True), member=member)
    cart = _cart(member, shop, (shop["bags"], 1, "60.00"))

    a, b = coupons_evaluate(cart=cart, codes=[first.code, second.code])
    assert a.applies and (b.applies, b.reason_code) == (False, "coupon_not_stackable")
    c, d = coupons_evaluate(cart=cart, codes=[s1.code, s2.code])
    assert c.discount + d.discount == Decimal("60.00")  # 40, then the 20 that was left


def test_evaluation_is_a_constant_number_of_queries(shop, django_assert_max_num_queries):
    member = MemberFactory()
    codes = [
        coupon_issue(
            template=CouponTemplateFactory(code=f"q{i}", is_stackable=True, categories=[shop["shoes"]]), member=member
        ).code
        for i in range(6)
    ]
    with django_assert_max_num_queries(6):
        coupons_evaluate(cart=_cart(member, shop, (shop["running"], 1, "500.00")), codes=codes)


def test_redeem_once_then_already_redeemed_and_restore(shop):
    member = MemberFactory()
    coupon = coupon_issue(template=CouponTemplateFactory(), member=member)

    redeemed = coupon_redeem(
        code=coupon.code.lower(), store_id=shop["store"].pk, member_id=member.pk, order_number="O1"
    )
    assert (redeemed.status, redeemed.redeemed_store, redeemed.redeemed_order) == ("redeemed", shop["store"], "O1")
    with pytest.raises(CouponAlreadyRedeemed):
        coupon_redeem(code=coupon.code, store_id=shop["store"].pk)

    assert coupon_restore(code=coupon.code).status == "issued"
    Coupon.objects.filter(pk=coupon.pk).update(
        status="redeemed", redeemed_at=timezone.now(), expires_at=timezone.now() - timedelta(days=1)
    )
    assert coupon_restore(code=coupon.code).status == "redeemed"  # past its validity: not given back


def test_expired_and_wrong_store_redemptions_are_refused(shop):
    member = MemberFactory()
    old = coupon_issue(template=CouponTemplateFactory(code="o"), member=member)
    Coupon.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CouponExpired):
        coupon_redeem(code=old.code, store_id=shop["store"].pk, member_id=member.pk)
    local = coupon_issue(template=CouponTemplateFactory(code="l", stores=[shop["other_store"]]), member=member)
    with pytest.raises(CouponWrongStore):
        coupon_redeem(code=local.code, store_id=shop["store"].pk, member_id=member.pk)
    assert Coupon.objects.filter(status="redeemed").count() == 0
    assert coupons_expire_due() == 1


def test_limits_when_issuing_one_and_in_bulk(shop):
    members = [MemberFactory() for _ in range(5)]
    template = CouponTemplateFactory(code="welcome", per_member_limit=1, total_limit=4)
    coupon_issue(template=template, member=members[0])
    with pytest.raises(CouponIssueRefused):
        coupon_issue(template=template, member=members[0])

    issued = coupons_issue_bulk(template=template, member_ids=[m.pk for m in members])

    assert issued == 3  # total limit 4, one already out; members[0] skipped (at its limit)
    assert Coupon.objects.filter(template=template).values("member").distinct().count() == 4
    template.refresh_from_db()
    assert template.issued_count == 4
    assert coupons_issue_bulk(template=template, member_ids=[m.pk for m in members]) == 0


def test_bulk_issue_to_everyone_gives_one_each_even_with_a_higher_member_limit(shop):
    members = [MemberFactory() for _ in range(30)]
    template = CouponTemplateFactory(code="two", per_member_limit=2)
    assert coupons_issue_bulk(template=template) == 30
    assert coupons_issue_bulk(template=template) == 30
    assert coupons_issue_bulk(template=template) == 0
    assert Coupon.objects.filter(template=template).count() == 60 and len(members) == 30


def test_merge_moves_coupons(shop):
    survivor, merged = MemberFactory(), MemberFactory()
    coupon = coupon_issue(template=CouponTemplateFactory(), member=merged)
    member_merge(survivor=survivor, merged=merged)
    coupon.refresh_from_db()
    assert coupon.member == survivor


@pytest.mark.django_db(transaction=True)
def test_of_many_simultaneous_redemptions_exactly_one_succeeds(shop):
    holder = MemberFactory()
    coupon = coupon_issue(template=CouponTemplateFactory(), member=holder)
    outcomes = []
    barrier = threading.Barrier(20)

    def redeem():
        try:
            barrier.wait()
            coupon_redeem(code=coupon.code, store_id=shop["store"].pk, member_id=holder.pk)
            outcomes.append("ok")
        except CouponAlreadyRedeemed:
            outcomes.append("already")
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and outcomes.count("already") == 19
