"""API key scopes: defaulted by channel kind, set on the command line or in the console, enforced per view."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from apps.stores.auth import HasScopes
from apps.stores.models import ApiKey
from apps.stores.scopes import ALL_SCOPES
from apps.stores.services import api_key_create
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/members/lookup"
NEARBY = "/api/v1/stores/nearby"


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _key_with(scopes, kind="mall") -> APIClient:
    channel = ChannelFactory(code=f"c-{kind}", kind=kind)
    return _client(api_key_create(channel_code=channel.code, scopes=scopes)[1])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("pos", set(ALL_SCOPES)),
        ("mall", set(ALL_SCOPES)),
        ("mini_program", set(ALL_SCOPES)),
        ("platform", {"catalog:read", "orders:read", "orders:write", "members:write"}),
        ("live", {"catalog:read", "orders:read", "orders:write", "members:write"}),
    ],
)
def test_a_new_key_gets_its_channel_kinds_default_scopes(kind, expected):
    ChannelFactory(code="c1", kind=kind)
    key, _raw = api_key_create(channel_code="c1")
    assert set(key.scope_list) == expected


def test_channel_key_takes_scopes_and_refuses_unknown_ones():
    ChannelFactory(code="tmall", kind="platform")
    out = io.StringIO()
    call_command("channel_key", "tmall", "--scopes", "kpis:read,catalog:read", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get(prefix=raw.split(".")[0])
    assert key.scope_list == ["catalog:read", "kpis:read"]

    with pytest.raises(CommandError, match="members:raed"):
        call_command("channel_key", "tmall", "--scopes", "members:raed", stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiKey.objects.count() == 1


def test_a_platform_key_cannot_look_members_up_and_is_told_which_scope_it_lacks():
    client = _key_with(None, kind="platform")

    response = client.get(LOOKUP, {"phone": "13800138000"})

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "insufficient_scope" and "members:read" in body["detail"]
    assert client.get(NEARBY, {"lat": 31.2, "lng": 121.4}).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "scope"),
    [
        ("get", "/api/v1/kpis?month=2026-01", "kpis:read"),
        ("post", "/api/v1/coupons/C1/redeem", "coupons:redeem"),
        ("post", "/api/v1/orders/N1/verify", "vouchers:verify"),
        ("get", "/api/v1/members/M1/points", "members:read"),
        ("get", "/api/v1/orders/N1", "orders:read"),
        ("post", "/api/v1/orders", "orders:write"),
        ("get", "/api/v1/skus/S1/price", "catalog:read"),
    ],
)
def test_each_operation_needs_its_scope(method, url, scope):
    others = [s for s in ALL_SCOPES if s != scope]
    response = getattr(_key_with(others), method)(url, {} if method == "post" else None, format="json")
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    assert scope in response.json()["detail"]


def test_registering_without_members_read_answers_only_the_code():
    client = _key_with(["members:write"], kind="platform")

    response = client.post("/api/v1/members", {"phone": "13800138000", "name": "Li"}, format="json")

    assert response.status_code == 201
    assert set(response.json()) == {"code"}
    again = client.post("/api/v1/members", {"phone": "+86 138 0013 8000"}, format="json")
    assert again.status_code == 200 and again.json() == response.json()


def test_an_operator_changes_a_keys_scopes_in_the_console_and_they_apply_at_once(admin_client):
    channel = ChannelFactory(code="tmall", kind="platform")
    key, raw = api_key_create(channel_code=channel.code)
    client = _client(raw)
    assert client.get("/api/v1/kpis", {"month": "2026-01"}).status_code == 403

    page = admin_client.get(f"/admin/stores/apikey/{key.pk}/change/")
    assert b"kpis:read" in page.content
    response = admin_client.post(
        f"/admin/stores/apikey/{key.pk}/change/", {"name": "BI tool", "scopes": ["kpis:read", "catalog:read"]}
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "BI tool" and key.scope_list == ["catalog:read", "kpis:read"]
    assert client.get("/api/v1/kpis", {"month": "2026-01"}).status_code == 200
    assert client.post("/api/v1/orders", {}, format="json").json()["code"] == "insufficient_scope"


def _api_views(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            yield route, pattern.callback


DOCUMENTATION = ("api/v1/schema/", "api/v1/docs/", "api/v1/redoc/")  # the schema, Swagger UI, Redoc


def test_every_api_view_declares_the_scope_it_needs():
    """A new endpoint cannot forget its scope: every view under /api/v1/ but the schema and docs declares one."""
    views = [(route, cb) for route, cb in _api_views(get_resolver()) if route not in DOCUMENTATION]
    assert len(views) >= 15
    for route, callback in views:
        permissions = getattr(callback.cls, "permission_classes", [])
        declared = [p for p in permissions if isinstance(p, type) and issubclass(p, HasScopes) and p.required_scopes]
        assert declared, f"{route} ({callback.cls.__name__}) declares no scope"
        assert all(s in ALL_SCOPES for p in declared for s in p.required_scopes), route
