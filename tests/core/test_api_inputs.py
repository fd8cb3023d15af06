"""No input gives a 500: malformed requests get 400 problem details at the edge and change nothing."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status
    return body


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/members/a%00b/points",
        "/api/v1/members/lookup?openid=a%00b",
        "/api/v1/members/lookup?phone=%00",
        "/api/v1/kpis?month=2026-01&store=S%00",
        "/api/v1/skus/T%00/price",
        "/api/v1/orders/N%00",
    ],
)
def test_a_nul_byte_in_a_path_or_query_value_is_a_400(api, url):
    _assert_problem(api.get(url), 400, "malformed_request")


def test_a_nul_byte_in_a_page_address_is_a_400_not_a_crash(client):
    assert client.get("/store/members/a%00b/").status_code == 400


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "9999-12", "2026-01\n"])
def test_kpis_refuse_months_out_of_range(api, month):
    body = _assert_problem(api.get("/api/v1/kpis", {"month": month}), 400, "invalid_kpi_query")
    assert "month" in body["errors"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/members",
        "/api/v1/orders",
        "/api/v1/orders/N1/refunds",
        "/api/v1/orders/N1/verify",
        "/api/v1/coupons/C1/redeem",
        "/api/v1/members/M1/points/redeem",
        "/api/v1/channel-listings",
    ],
)
def test_a_deeply_nested_json_body_is_a_400(api, url):
    nested = "[" * 100_000 + "]" * 100_000
    response = api.post(url, nested, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    _assert_problem(response, 400, "malformed_request")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_size_limit_gets_problem_details(api):
    lines = [{"sku": f"SKU{i}", "quantity": 1} for i in range(100)]
    response = api.post("/api/v1/orders", {"external_id": "E1", "store": "S1", "lines": lines}, format="json")
    _assert_problem(response, 400, "malformed_request")
