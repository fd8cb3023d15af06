import pytest
from django.core.cache import cache

from apps.campaigns.wechat.client import WeChatSender, _sender_for
from apps.campaigns.wechat.fake_server import FakeWeChat


@pytest.fixture(autouse=True)
def _sequential_sending(settings):
    """Send from the test's own thread (its uncommitted data is invisible to other connections); tests of
    concurrent sending run with ``transaction=True`` and set OUTBOX_SEND_CONCURRENCY themselves."""
    settings.OUTBOX_SEND_CONCURRENCY = 1


@pytest.fixture(scope="session")
def fake_wechat_server():
    server = FakeWeChat().start()
    yield server
    server.stop()


@pytest.fixture
def fake_wechat(fake_wechat_server, settings):
    """A clean fake WeChat with the project's settings pointed at it, and no cached token."""
    fake_wechat_server.reset()
    settings.WECHAT_API_BASE_URL = fake_wechat_server.base_url
    settings.WECOM_API_BASE_URL = fake_wechat_server.base_url
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-demo-app", "demo-secret"
    settings.WECOM_CORP_ID, settings.WECOM_SECRET = "ww-demo-corp", "demo-wecom-secret"
    settings.WECHAT_TIMEOUT_SECONDS = 1.0
    cache.clear()
    _sender_for.cache_clear()
    yield fake_wechat_server
    cache.clear()
    _sender_for.cache_clear()


@pytest.fixture
def sender(fake_wechat) -> WeChatSender:
    return WeChatSender.from_settings()
