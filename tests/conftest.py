"""Shared fixtures. Tests run on PostgreSQL only: locking, constraints and COPY are part of what we test."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import ChannelFactory


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker) -> None:
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit(
                f"Tests need PostgreSQL, got {connection.vendor}; set DATABASE_URL=postgres://... "
                "or run scripts/test.sh",
                returncode=2,
            )


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
