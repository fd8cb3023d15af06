import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.stores.services import api_key_create, api_key_revoke
from tests.factories import ChannelFactory, StoreFactory

pytestmark = pytest.mark.django_db

NEARBY = "/api/v1/stores/nearby"


def _assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith(code) and body["title"] and body["detail"]
    return body


def test_missing_key_is_401_problem(anon_api):
    response = anon_api.get(NEARBY, {"lat": 31.2, "lng": 121.4})
    _assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize("header", ["Api-Key nonsense", "Api-Key abcd.efgh", "Api-Key a b", "Bearer x"])
def test_wrong_key_is_401(anon_api, api_key, header):
    anon_api.credentials(HTTP_AUTHORIZATION=header)
    response = anon_api.get(NEARBY, {"lat": 31.2, "lng": 121.4})
    assert response.status_code == 401
    assert response.json()["code"] in {"invalid_api_key", "not_authenticated"}


def test_a_key_with_a_wrong_secret_is_refused(anon_api, api_key):
    prefix = api_key.split(".")[0]
    anon_api.credentials(HTTP_AUTHORIZATION=f"Api-Key {prefix}.not-the-secret")
    _assert_problem(anon_api.get(NEARBY, {"lat": 31.2, "lng": 121.4}), 401, "invalid_api_key")


def test_revoked_key_is_refused_at_once(channel):
    key, raw = api_key_create(channel_code=channel.code)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get(NEARBY, {"lat": 31.2, "lng": 121.4}).status_code == 200

    api_key_revoke(key=key)

    _assert_problem(client.get(NEARBY, {"lat": 31.2, "lng": 121.4}), 401, "invalid_api_key")


def test_key_of_a_deactivated_channel_is_refused():
    channel = ChannelFactory(code="live", kind="live")
    _key, raw = api_key_create(channel_code="live")
    channel.is_active = False
    channel.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get(NEARBY, {"lat": 31.2, "lng": 121.4}).status_code == 401


def test_only_the_hash_of_a_key_is_stored(channel):
    key, raw = api_key_create(channel_code=channel.code)
    key.refresh_from_db()
    assert raw.split(".")[1] not in key.hashed_secret
    assert len(key.hashed_secret) == 64


def test_channel_key_command_prints_a_working_key_on_the_last_line(channel, capsys):
    call_command("channel_key", channel.code)
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get(NEARBY, {"lat": 31.2, "lng": 121.4}).status_code == 200


def test_validation_errors_are_problem_details_naming_each_field(api):
    body = _assert_problem(api.get(NEARBY, {"lat": "95", "lng": "east"}), 400, "validation_error")
    assert set(body["errors"]) == {"lat", "lng"}


def test_unknown_api_path_is_a_problem_404(api):
    response = api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_nearby_orders_stores_by_distance_and_skips_inactive_and_warehouses(api):
    # People's Square, Shanghai; distances by the haversine formula.
    StoreFactory(code="FAR", lat="30.257210", lng="120.164230")  # Hangzhou, ~165 km
    StoreFactory(code="NEAR", lat="31.231000", lng="121.473000")  # ~0.4 km
    StoreFactory(code="MID", lat="31.193650", lng="121.437660")  # ~5 km
    StoreFactory(code="CLOSED", lat="31.230500", lng="121.471000", is_active=False)
    StoreFactory(code="WH", kind="warehouse", lat="31.230500", lng="121.471000")
    StoreFactory(code="NOLOC", lat=None, lng=None)

    response = api.get(NEARBY, {"lat": 31.2304, "lng": 121.4737, "limit": 10})

    assert response.status_code == 200
    stores = response.json()["stores"]
    assert [s["code"] for s in stores] == ["NEAR", "MID", "FAR"]
    assert stores[0]["distance_km"] < 0.2
    assert 4 < stores[1]["distance_km"] < 6
    assert 160 < stores[2]["distance_km"] < 170


def test_nearby_limit(api):
    for i in range(4):
        StoreFactory(code=f"S{i}", lat=f"31.2{i}", lng="121.47")
    assert len(api.get(NEARBY, {"lat": 31.2, "lng": 121.47, "limit": 2}).json()["stores"]) == 2


def test_throttled_key_gets_429_with_retry_after(api, monkeypatch):
    from django.core.cache import cache

    from apps.stores.auth import ChannelKeyThrottle

    cache.clear()
    monkeypatch.setattr(ChannelKeyThrottle, "THROTTLE_RATES", {"channel_key": "2/min"})

    codes = [api.get(NEARBY, {"lat": 31.2, "lng": 121.4}).status_code for _ in range(2)]
    last = api.get(NEARBY, {"lat": 31.2, "lng": 121.4})
    cache.clear()

    assert codes == [200, 200]
    _assert_problem(last, 429, "throttled")
    assert int(last["Retry-After"]) > 0


def test_openapi_schema_describes_the_api(anon_api):
    response = anon_api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/stores/nearby" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"
    responses = schema["paths"]["/api/v1/stores/nearby"]["get"]["responses"]
    assert {"200", "400", "401", "429"} <= set(responses)
