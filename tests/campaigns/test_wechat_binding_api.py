"""``POST /api/v1/members/{code}/wechat-binding``, consent per purpose, and the card's nearby stores."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.test import Client

from apps.frontdesk.card_links import card_link_make
from apps.members.models import BindingScene, ConsentEvent, Member
from apps.members.services import member_erase
from tests.browser.world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def test_the_api_returns_a_temporary_wechat_qr_for_the_member(api, world, fake_wechat):
    answer = api.post(
        f"/api/v1/members/{world.member.code}/wechat-binding", {"store": "SH001", "guide": "C-SH001"}, format="json"
    )

    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"ticket", "qr_url", "scene", "expires_at"}
    scene = BindingScene.objects.get(ticket=body["ticket"])
    assert (scene.member, scene.store, scene.guide) == (world.member, world.store, world.clerk)
    assert body["scene"] == f"bind:{scene.token}"
    # WeChat got a temporary string-scene QR naming that scene, and serves its image
    assert fake_wechat.state.qrcodes[body["ticket"]]["scene"] == body["scene"]
    assert requests.get(body["qr_url"]).headers["Content-Type"] == "image/png"


def test_the_api_refuses_unknown_and_erased_members_and_says_when_wechat_is_down(api, world, fake_wechat):
    assert api.post("/api/v1/members/000000000000/wechat-binding", {}, format="json").json()["code"] == (
        "member_not_found"
    )
    member_erase(member=world.other_member)
    erased = api.post(f"/api/v1/members/{world.other_member.code}/wechat-binding", {}, format="json")
    assert (erased.status_code, erased.json()["code"]) == (404, "member_not_found")  # erased: gone for channels
    bad_guide = api.post(f"/api/v1/members/{world.member.code}/wechat-binding", {"guide": "NOPE"}, format="json")
    assert bad_guide.status_code == 400
    fake_wechat.fail_next({"errcode": -1})  # the next WeChat answer is a system error
    down = api.post(f"/api/v1/members/{world.member.code}/wechat-binding", {}, format="json")
    assert (down.status_code, down.json()["code"]) == (503, "wechat_unavailable")


def test_consent_is_asked_per_purpose_on_the_register_page_and_the_api(api, world):
    clerk = Client()
    clerk.force_login(world.clerk.user)
    clerk.post("/store/members/register/", {"phone": "13912345678", "consent_sms": "on"})
    member = Member.objects.get(phone="+8613912345678")
    assert dict(member.consents.values_list("channel", "granted")) == {"wechat": False, "sms": True}

    answer = api.post("/api/v1/members", {"phone": "13912345679", "consents": {"wechat": True}}, format="json")
    assert answer.status_code == 201
    assert dict(Member.objects.get(phone="+8613912345679").consents.values_list("channel", "granted")) == {
        "wechat": True
    }


def test_the_console_shows_each_purpose_with_its_history(admin_client, world):
    from apps.members.services import consent_set

    consent_set(member=world.member, channel="sms", granted=True, source="SH001")
    consent_set(member=world.member, channel="sms", granted=False, source="sms:STOP")
    consent_set(member=world.member, channel="wechat", granted=True, source="wechat:bind:SH001")
    page = admin_client.get(f"/admin/members/member/{world.member.pk}/change/").content.decode()
    assert "consent history (per purpose)" in page.lower()
    assert "sms:STOP" in page and "wechat:bind:SH001" in page
    assert ConsentEvent.objects.filter(member=world.member).count() == 3


def test_the_card_lists_stores_near_the_member_when_the_browser_gives_a_position(world):
    card = card_link_make(member_code=world.member.code)
    from_join_store = Client().get(card).content.decode()
    assert "where you joined" in from_join_store
    # Standing next to Xintiandi (SH002): it comes first, and the page says the distance is from here
    near = Client().get(card, {"lat": str(Decimal("31.2197")), "lng": str(Decimal("121.4750"))}).content.decode()
    assert "Measured from where you are now." in near
    assert near.index("Xintiandi") < near.index("Jing&#x27;an")
    # A position that is not one falls back to the join store
    assert "where you joined" in Client().get(card, {"lat": "999", "lng": "1"}).content.decode()


def test_a_store_and_guide_get_a_permanent_parametric_qr_for_walk_in_followers(world, fake_wechat):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("wechat_store_qr", "SH001", "--guide", "C-SH001", stdout=out)
    ticket = out.getvalue().split("ticket ")[1].split()[0]
    qr = fake_wechat.state.qrcodes[ticket]
    assert (qr["scene"], qr["expires_at"]) == ("store:SH001:guide:C-SH001", None)  # QR_LIMIT_STR_SCENE
