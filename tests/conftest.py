"""Shared fixtures. Tests run on PostgreSQL (settings refuse anything else): locking, constraints and COPY are
part of what we test."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

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
