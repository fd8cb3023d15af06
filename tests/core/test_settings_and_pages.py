"""Settings refuse what we do not support; the start page and the API docs work on a machine with no internet."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]


def test_an_sqlite_database_url_is_refused_with_a_clear_message():
    env = {**os.environ, "DATABASE_URL": "sqlite:///var/db.sqlite3"}
    env.pop("PYTEST_VERSION", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr
    assert "not sqlite3" in result.stderr


@pytest.mark.django_db
def test_the_start_page_links_to_every_way_in(client):
    page = client.get("/").content.decode()
    for href in ("/admin/", "/store/", "/api/v1/docs/", "/healthz"):
        assert f'href="{href}"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_docs_load_nothing_from_another_host(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), page  # no CDN, no other host
    assets = re.findall(r"""(?:src|href)=["']/static/([^"']+)["']""", page)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert finders.find(asset), asset  # served from our own static files
