"""A clerk's day in a real browser: register, find, redeem, sell, verify, stock, my day, the member card.

Each flow is walked as a clerk would, failures included (used coupon, unknown member, another store's
member, another store's voucher, an expired card link). A failing test leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import time

import pytest
from django.core import signing
from playwright.sync_api import expect

from apps.catalog.models import Stock
from apps.frontdesk.card_links import SALT, card_link_make
from apps.loyalty.models import Coupon
from apps.members.models import Member
from apps.orders.models import Order
from tests.browser.conftest import login
from tests.browser.world import MY_PHONE, build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def clerk_page(page, world):
    login(page, "clerk")
    expect(page.get_by_role("heading", name="Hello, Zhao Min")).to_be_visible()
    return page


def test_register_a_member_and_show_the_wechat_qr(clerk_page, world, fake_wechat):
    page = clerk_page
    page.get_by_role("link", name="Register a member").click()
    page.get_by_label("Mobile phone").fill("139 1234 5678")
    page.get_by_label("Name").fill("Chen Yu")
    page.get_by_label("receive offers and news from us on WeChat").check()
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("heading", name="Member registered")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("139****5678")
    # WeChat's own QR image (showqrcode, from the fake server), with its expiry
    qr = page.get_by_role("img", name="WeChat binding QR code")
    expect(qr).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", qr.element_handle()) > 0
    expect(page.get_by_test_id("binding-expiry")).to_contain_text("Valid until")
    member = Member.objects.get(phone="+8613912345678")
    assert (member.join_store, member.recruited_by) == (world.store, world.clerk)
    assert dict(member.consents.values_list("channel", "granted")) == {"wechat": True, "sms": False}

    page.get_by_role("link", name="See the member").click()
    expect(page.get_by_test_id("member-code")).to_have_text(member.code)


def test_register_refuses_a_bad_phone_and_does_not_reveal_another_stores_member(clerk_page, world):
    page = clerk_page
    page.goto("/store/members/register/")
    page.get_by_label("Mobile phone").fill("12345")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("does not look like a phone number")

    page.get_by_label("Mobile phone").fill("13900139000")  # Wu Lei, a Hangzhou member
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Already a member")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Wu Lei")
    expect(page.locator("main")).not_to_contain_text(world.other_member.code)


def test_find_a_member_by_phone_and_by_code(clerk_page, world):
    page = clerk_page
    page.get_by_role("link", name="Find a member").click()
    page.get_by_label("Phone number or member code").fill("138-0013-8000")
    page.get_by_role("button", name="Find").click()

    expect(page.get_by_role("heading", name="Li Na 138****8000")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("13800138000")
    expect(page.get_by_test_id("tier")).to_have_text("Silver")
    expect(page.get_by_text("more to reach Gold")).to_be_visible()
    expect(page.get_by_test_id("points")).to_have_text("300")
    expect(page.get_by_text("300 points expire on")).to_be_visible()
    expect(page.get_by_text(world.coupon)).to_be_visible()

    page.goto("/store/members/find/")
    page.get_by_label("Phone number or member code").fill(world.member.code)
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_test_id("member-code")).to_have_text(world.member.code)


def test_unknown_member_and_another_stores_member_are_refused_politely(clerk_page, world):
    page = clerk_page
    page.goto("/store/members/find/")
    page.get_by_label("Phone number or member code").fill("13700137000")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("alert")).to_contain_text("No member matches")

    page.get_by_label("Phone number or member code").fill("13900139000")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="Another store's member")).to_be_visible()
    main = page.locator("main")
    for secret in ("Wu Lei", "139****9000", world.other_member.code, world.other_coupon):
        expect(main).not_to_contain_text(secret)
    expect(page.get_by_role("link", name="Record a sale")).to_be_visible()  # they can still be served

    page.goto(f"/store/members/{world.other_member.code}/")  # changing the URL does not help
    expect(page.get_by_role("heading", name="Another store's member")).to_be_visible()
    expect(main).not_to_contain_text("Wu Lei")


def test_redeem_a_coupon_then_the_used_coupon_is_refused(clerk_page, world):
    page = clerk_page
    page.goto(f"/store/members/{world.member.code}/")
    coupon_row = page.locator("li", has_text=world.coupon)
    coupon_row.get_by_role("button", name="Redeem").click()

    expect(page.get_by_role("status")).to_contain_text(f"Coupon {world.coupon} (10 yuan off) is redeemed")
    expect(page.get_by_text("No coupons to use.")).to_be_visible()
    coupon = Coupon.objects.get(code=world.coupon)
    assert (coupon.status, coupon.redeemed_by, coupon.redeemed_store) == ("redeemed", world.clerk, world.store)

    page.goto("/")
    page.goto("/store/")
    page.get_by_role("link", name="Redeem a coupon").click()
    page.get_by_label("Coupon code").fill(world.coupon.lower())
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_contain_text("already been used")

    page.get_by_label("Coupon code").fill("NOSUCHCODE")
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_contain_text("There is no coupon with this code")


def test_record_an_in_store_sale_with_member_and_coupon(clerk_page, world):
    page = clerk_page
    page.get_by_role("link", name="Record a sale").click()
    page.get_by_label("Items").fill("TEA x2\n6901234567892")  # a SKU code and a scanned barcode
    page.get_by_label("Member phone or code").fill("13800138000")
    page.get_by_label("Coupon code").fill(world.coupon)
    page.get_by_role("button", name="Check prices").click()

    expect(page.get_by_test_id("sale-member")).to_contain_text("Li Na")
    expect(page.get_by_test_id("sale-total")).to_have_text("¥80.00")  # 3 x 30 less 10
    page.get_by_role("button", name="Record the sale").click()

    expect(page.get_by_role("status")).to_contain_text("Sale recorded")
    expect(page.get_by_test_id("order-total")).to_have_text("¥80.00")
    order = Order.objects.get(channel__code="pos")
    assert order.channel.code == "pos" and order.store == world.store and order.member == world.member
    assert order.guide == world.clerk and order.credited_guide == world.clerk
    assert Stock.objects.get(store=world.store, sku__code="TEA").on_hand == 7
    assert Coupon.objects.get(code=world.coupon).status == "redeemed"


def test_a_sale_explains_a_used_coupon_and_an_unknown_item(clerk_page, world):
    page = clerk_page
    Coupon.objects.filter(code=world.coupon).update(status="redeemed", redeemed_at=world.member.joined_at)
    page.goto("/store/sale/")
    page.get_by_label("Items").fill("NOPE")
    page.get_by_role("button", name="Check prices").click()
    expect(page.get_by_role("alert")).to_contain_text("Unknown item: NOPE")

    page.get_by_label("Items").fill("TEA")
    page.get_by_label("Member phone or code").fill(MY_PHONE)
    page.get_by_label("Coupon code").fill(world.coupon)
    page.get_by_role("button", name="Check prices").click()
    expect(page.get_by_role("alert")).to_contain_text("already been used")
    expect(page.get_by_role("button", name="Record the sale")).to_have_count(0)
    assert not Order.objects.filter(channel__code="pos").exists()


def test_serving_another_stores_member_shows_no_details(clerk_page, world):
    page = clerk_page
    page.goto("/store/sale/")
    page.get_by_label("Items").fill("TEA")
    page.get_by_label("Member phone or code").fill("13900139000")
    page.get_by_role("button", name="Check prices").click()
    expect(page.get_by_test_id("sale-member")).to_have_text(f"Member card …{world.other_member.code[-4:]}")
    expect(page.locator("main")).not_to_contain_text("Wu Lei")
    page.get_by_role("button", name="Record the sale").click()
    expect(page.get_by_role("status")).to_contain_text("Sale recorded")
    # Having bought here, they are now this store's customer too.
    page.goto(f"/store/members/{world.other_member.code}/")
    expect(page.get_by_role("heading", name="Wu Lei 139****9000")).to_be_visible()


def test_verify_a_voucher_once_and_refuse_another_stores(clerk_page, world):
    page = clerk_page
    page.get_by_role("link", name="Verify a voucher").click()
    page.get_by_label("Verification code").fill(world.voucher.verification_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_contain_text(f"Voucher for order {world.voucher.number} is verified")
    assert Order.objects.get(pk=world.voucher.pk).verified_store == world.store

    page.get_by_label("Verification code").fill(world.voucher.verification_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("already been used")

    page.get_by_label("Verification code").fill(world.other_voucher.verification_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("can only be used at Hubin")
    assert Order.objects.get(pk=world.other_voucher.pk).verified_at is None

    page.get_by_label("Verification code").fill("000000000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("No voucher has this code")


def test_stock_here_and_nearby(clerk_page, world):
    page = clerk_page
    page.get_by_role("link", name="Stock").click()
    page.get_by_label("SKU code or barcode").fill("tea")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("could not find that product")
    page.get_by_label("SKU code or barcode").fill("TEA")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("stock-here")).to_have_text("10")
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("Xintiandi")
    expect(rows.first).to_contain_text("4")


def test_points_mall_and_my_day(clerk_page, world):
    page = clerk_page
    page.goto(f"/store/members/{world.member.code}/")
    page.locator("li", has_text="Free tea cup").get_by_role("button", name="Exchange").click()
    expect(page.get_by_role("status")).to_contain_text("Exchanged 100 points for “Free tea cup”")
    expect(page.get_by_test_id("points")).to_have_text("200")

    page.goto("/store/sale/")
    page.get_by_label("Items").fill("TEA")
    page.get_by_role("button", name="Check prices").click()
    page.get_by_role("button", name="Record the sale").click()
    expect(page.get_by_role("status")).to_contain_text("Sale recorded")

    page.goto("/store/")
    page.get_by_role("link", name="My day").click()
    expect(page.get_by_test_id("my-sales-day")).to_have_text("¥30.00")
    expect(page.get_by_test_id("my-members-month")).to_have_text("1")  # Li Na joined today with this clerk


def test_member_card_link_and_its_failures(page, world):
    page.goto(card_link_make(member_code=world.member.code))
    expect(page.get_by_test_id("card-code")).to_have_text(world.member.code)
    expect(page.get_by_label("Member QR code").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("card-tier")).to_have_text("Silver")
    expect(page.get_by_test_id("card-points")).to_have_text("300")
    expect(page.get_by_text(world.coupon)).to_be_visible()
    expect(page.get_by_text("Xintiandi")).to_be_visible()

    token = signing.TimestampSigner(salt=SALT).sign(world.member.code)
    forged = token.replace(world.member.code, world.other_member.code)
    response = page.goto(f"/m/{forged}/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Wu Lei")

    class Old(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 30 * 24 * 3600)

    response = page.goto(f"/m/{Old(salt=SALT).sign(world.member.code)}/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()


def test_clerk_pages_in_simplified_chinese(browser, live_server, world):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto("/store/login/")
        page.get_by_label("用户名").fill("clerk")
        page.get_by_label("密码").fill("pw-for-tests-1")
        page.get_by_role("button", name="登录").click()
        page.get_by_role("link", name="查找会员").click()
        page.get_by_label("手机号或会员卡号").fill("13900139000")
        page.get_by_role("button", name="查找").click()
        expect(page.get_by_role("heading", name="其他门店的会员")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("这位会员属于其他门店")
    finally:
        context.close()
