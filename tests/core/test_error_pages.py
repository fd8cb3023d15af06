"""Refusals outside the API are the project's own pages, translated, with a way back; the API keeps problem+json."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_missing_store_page_is_our_own_with_a_way_back_to_the_store_pages(client):
    response = client.get("/store/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 404
    page = response.content.decode()
    assert "找不到此页面" in page and 'href="/store/"' in page and "返回门店页面" in page


def test_a_missing_page_elsewhere_leads_back_to_the_start(client):
    response = client.get("/no-such-page", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "There is no such page" in response.content.decode() and 'href="/"' in response.content.decode()


def test_a_missing_console_page_leads_back_to_the_console(admin_client):
    response = admin_client.get("/admin/stores/nosuchmodel/")
    assert response.status_code == 404 and 'href="/admin/"' in response.content.decode()


def test_a_failed_csrf_check_is_our_own_translated_page():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/store/login/", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    page = response.content.decode()
    assert "此表单已过期" in page and 'href="/store/"' in page


def test_the_api_keeps_answering_problem_details(api):
    response = api.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
