"""Shared fixtures. Tests run on PostgreSQL (settings refuse anything else): locking, constraints and COPY are
part of what we test."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.campaigns.wechat.client import _sender_for
from apps.campaigns.wechat.fake_server import FakeWeChat
from tests.factories import ChannelFactory


@pytest.fixture
def channel(db):
    return ChannelFactory(code="mall", kind="mall")


@pytest.fixture
def api_key(channel) -> str:
    from apps.stores.services import api_key_create

    _key, raw = api_key_create(channel_code=channel.code)
    return raw


@pytest.fixture
def api(api_key) -> APIClient:
    """An API client authenticated as the ``mall`` channel."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _no_real_wechat(settings):
    """Never reach WeChat itself: without the fake server (``fake_wechat``), WeChat calls fail at once."""
    nowhere = "http://127.0.0.1:9/cgi-bin/"
    settings.WECHAT_API_BASE_URL = settings.WECOM_API_BASE_URL = settings.WECHAT_MP_BASE_URL = nowhere
    settings.WECHAT_OPEN_BASE_URL = nowhere.removesuffix("cgi-bin/")
    _sender_for.cache_clear()


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
    settings.WECHAT_MP_BASE_URL = fake_wechat_server.base_url
    settings.WECHAT_OPEN_BASE_URL = fake_wechat_server.base_url.removesuffix("cgi-bin/")
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-demo-app", "demo-secret"
    settings.WECOM_CORP_ID, settings.WECOM_SECRET = "ww-demo-corp", "demo-wecom-secret"
    settings.WECHAT_TIMEOUT_SECONDS = 1.0
    cache.clear()
    _sender_for.cache_clear()
    yield fake_wechat_server
    cache.clear()
    _sender_for.cache_clear()
