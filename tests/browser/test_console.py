"""An operator's morning in the console, in a real browser: open home, find a member by phone, read their 360°.

The same walk takes the documentation screenshots (home, member 360°, KPI dashboard, in English and Chinese):
into test-artifacts/console/ on every run, and into docs/screenshots/ when CONSOLE_SCREENSHOTS_DIR says so
(``CONSOLE_SCREENSHOTS_DIR=docs/screenshots bash scripts/test.sh tests/browser/test_console.py``; Chinese
needs a CJK font for Chromium, e.g. Debian's fonts-wqy-microhei).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.console_world import PASSWORD, build_console_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ["CONSOLE_SCREENSHOTS_DIR"]) if os.environ.get("CONSOLE_SCREENSHOTS_DIR") else None
MAX_PNG_BYTES = 300_000


@pytest.fixture
def world(db):
    return build_console_world()


def _console(browser, live_server, language: str):
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN" if language == "zh-hans" else "en-US",
        viewport={"width": 1280, "height": 900},
    )
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/")
    page.locator("#id_username").fill("hq")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    return context, page


def _shot(page, name: str) -> None:
    """A viewport-sized PNG (small enough to commit) in test-artifacts/console/, and in the docs when asked."""
    folder = ARTIFACTS / "console"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size < MAX_PNG_BYTES, f"{name}.png is {path.stat().st_size} bytes"
    if SHOTS is not None:
        target = SHOTS if SHOTS.is_absolute() else ROOT / SHOTS
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{name}.png").write_bytes(path.read_bytes())


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", {"tasks": "Every day", "find": "Find a member", "orders": "Orders", "edit": "Edit details"}),
        ("zh-hans", {"tasks": "日常工作", "find": "查找会员", "orders": "订单", "edit": "编辑资料"}),
    ],
)
def test_open_home_find_a_member_by_phone_and_read_the_360_page(browser, live_server, world, language, words):
    context, page = _console(browser, live_server, language)
    try:
        # home: how we are doing, and what to do today
        expect(page.locator("#home-tasks")).to_contain_text(words["tasks"])
        expect(page.locator("#home-kpis .home-card").first).to_be_visible()
        expect(page.get_by_test_id("today-sales")).to_contain_text("¥1,234.50")
        _shot(page, f"home-{language}")

        # find the member by phone, typed as people type it
        page.get_by_role("link", name=words["find"]).click()
        page.locator("#searchbar").fill("138 0013 8000")
        page.locator("#changelist-search input[type=submit]").click()
        page.get_by_role("link", name=world.member.code).click()

        # the 360° page
        expect(page.get_by_test_id("m360-code")).to_have_text(world.member.code)
        expect(page.get_by_test_id("m360-phone")).to_have_text("138****8000")
        expect(page.get_by_test_id("m360-points")).to_have_text("3,060")
        expect(page.locator("#orders table")).to_contain_text("¥1,234.50")
        expect(page.locator("#orders h2")).to_have_text(words["orders"])
        expect(page.locator("#profile")).to_contain_text("Tea lover")
        expect(page.locator("#messages")).to_contain_text("Welcome")
        expect(page.get_by_role("link", name=words["edit"])).to_be_visible()
        _shot(page, f"member-360-{language}")

        page.goto("/admin/insights/kpimonth/")
        expect(page.locator("#kpi-member_share_of_transactions .value")).to_contain_text("%")
        _shot(page, f"kpi-dashboard-{language}")
    finally:
        context.close()
