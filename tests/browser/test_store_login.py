import pytest
from playwright.sync_api import expect

from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.browser.conftest import login
from tests.factories import StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _clerk(username="clerk", stores=("SH001",), role=Staff.Role.CLERK):
    return staff_create(
        code=username.upper(),
        name=f"Clerk {username}",
        role=role,
        username=username,
        password="pw-for-tests-1",
        stores=[StoreFactory(code=c, name=f"Store {c}") for c in stores],
    )


def test_clerk_logs_in_and_sees_their_store(page):
    _clerk()
    page.goto("/store/")
    assert "/store/login/" in page.url  # anonymous visitors are sent to the login page

    login(page, "clerk")

    expect(page.get_by_role("heading", name="Hello, Clerk clerk")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Store SH001")


def test_wrong_password_says_so_and_keeps_the_user_name(page):
    _clerk()
    login(page, "clerk", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    expect(page.get_by_label("User name")).to_have_value("clerk")


def test_repeated_wrong_passwords_lock_the_login(page, settings):
    _clerk()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(page, "clerk", "wrong-password")
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()

    login(page, "clerk")  # even the right password is refused while locked
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()


def test_guide_with_two_stores_switches_between_them_only(page):
    _clerk("guide", stores=("HZ001", "HZ002"), role=Staff.Role.GUIDE)
    StoreFactory(code="SH009", name="Store SH009")  # not theirs
    login(page, "guide")
    expect(page.locator("header")).to_contain_text("Store HZ001")

    page.get_by_label("Store you are serving").select_option("HZ002")

    expect(page.locator("header")).to_contain_text("Store HZ002")
    options = page.get_by_label("Store you are serving").locator("option").all_inner_texts()
    assert not any("SH009" in o for o in options)


def test_staff_without_a_store_are_told_what_to_do(page):
    staff_create(code="HQ1", name="Op", role=Staff.Role.CLERK, username="nostore", password="pw-for-tests-1")
    login(page, "nostore")
    expect(page.get_by_role("alert")).to_contain_text("not assigned to any store")


def test_pages_follow_the_browser_language_and_can_be_switched(browser, live_server):
    _clerk()
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/store/login/")
        page.get_by_label("用户名").fill("clerk")
        page.get_by_label("密码").fill("pw-for-tests-1")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="您好，Clerk clerk")).to_be_visible()

        page.get_by_label("语言").select_option("en")

        expect(page.get_by_role("heading", name="Hello, Clerk clerk")).to_be_visible()
    finally:
        context.close()
