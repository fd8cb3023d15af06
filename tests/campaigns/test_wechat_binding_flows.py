"""One member on WeChat, end to end over real HTTP: Django's live server and the fake WeChat server talk to
each other as WeChat and our server would (QR codes, signed callbacks, OAuth redirects, WeCom callbacks).

A clerk registers a phone member; the customer scans the binding QR; the same customer opens ``/m/`` in
WeChat; their guide adds them in WeCom and a journey's WeCom step reaches them through that guide.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from apps.campaigns.journeys import journeys_materialise
from apps.campaigns.models import OutboxMessage
from apps.campaigns.services import outbox_dispatch_due
from apps.campaigns.wechat.binding import wechat_binding_create, wechat_store_qr_create
from apps.members.models import BindingConflict, BindingScene, Consent, Identity, Member, WeComContact
from apps.members.services import member_erase, member_merge
from apps.stores.models import Staff
from tests.browser.world import MY_PHONE, PASSWORD, build_world

from .factories import days_ago, journey_with_steps

PHONE = "+8613912345678"
OPENID = "oCustomer0001"


@pytest.fixture(autouse=True)
def _polite_defaults(settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    settings.CAMPAIGN_MAX_PER_DAY = 5


@pytest.fixture
def world(transactional_db):
    world = build_world()
    Staff.objects.filter(pk=world.clerk.pk).update(wecom_userid="zhaomin")
    return world


@pytest.fixture
def clerk_http(live_server, world) -> requests.Session:
    """The clerk's browser: logged in to the store pages over HTTP (with CSRF, as a browser does)."""
    session = requests.Session()
    session.get(f"{live_server.url}/store/login/")
    answer = session.post(
        f"{live_server.url}/store/login/",
        data={"username": "clerk", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{live_server.url}/store/login/"},
    )
    assert answer.status_code == 200 and "Hello, Zhao Min" in answer.text
    return session


def _register(clerk_http, live_server, *, phone: str = "139 1234 5678", wechat: bool = True, sms: bool = False):
    url = f"{live_server.url}/store/members/register/"
    clerk_http.get(url)
    form = {"phone": phone, "name": "Chen Yu", "csrfmiddlewaretoken": clerk_http.cookies["csrftoken"]}
    if wechat:
        form["consent_wechat"] = "on"
    if sms:
        form["consent_sms"] = "on"
    return clerk_http.post(url, data=form, headers={"Referer": url})


def _ticket(html: str) -> str:
    return re.search(r'data-ticket="([^"]+)"', html).group(1)


def _scan(fake, live_server, ticket: str, openid: str = OPENID):
    return fake.scan(
        ticket=ticket, openid=openid, callback_url=f"{live_server.url}/wechat/callback", token=settings.WECHAT_TOKEN
    )


def _ids(member: Member) -> dict[str, str]:
    return dict(Identity.objects.filter(member=member).values_list("kind", "value"))


def test_a_phone_member_scans_the_binding_qr_and_stays_one_member(fake_wechat, live_server, clerk_http):
    # Given a clerk registers a phone member: the welcome page shows WeChat's QR image and its expiry
    welcome = _register(clerk_http, live_server)
    assert welcome.status_code == 200 and "Member registered" in welcome.text
    assert "Valid until" in welcome.text
    image = requests.get(re.search(r'<img src="([^"]+)"', welcome.text).group(1).replace("&amp;", "&"))
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    member = Member.objects.get(phone=PHONE)
    members_before = Member.objects.count()

    # When the customer, new to the Official Account, scans it (WeChat sends subscribe with qrscene_bind:...)
    answer = _scan(fake_wechat, live_server, _ticket(welcome.text))

    # Then the same member now has the openid and the unionid WeChat knows; no second member appeared
    assert answer.status_code == 200
    assert Member.objects.count() == members_before
    assert _ids(member) == {"wechat_openid": OPENID, "wechat_unionid": fake_wechat.unionid_for(OPENID)}
    consents = dict(Consent.objects.filter(member=member).values_list("channel", "granted"))
    assert consents == {"wechat": True, "sms": False}  # per purpose, as the customer chose at the counter

    # And scanning again (now a follower: WeChat sends SCAN) changes nothing
    assert _scan(fake_wechat, live_server, _ticket(welcome.text)).status_code == 200
    assert Member.objects.count() == members_before
    assert Identity.objects.filter(value=OPENID).count() == 1

    # The same customer opens /m/ inside WeChat: OAuth (snsapi_base) signs them in and shows their card
    fake_wechat.sign_in(OPENID)
    phone = requests.Session()
    card = phone.get(f"{live_server.url}/m/")
    assert card.status_code == 200
    assert member.code in card.text and "Chen Yu" in card.text
    hops = [r.url.split("?")[0] for r in card.history]
    assert hops == [
        f"{live_server.url}/m/",
        f"{fake_wechat.base_url.removesuffix('cgi-bin/')}connect/oauth2/authorize",
        f"{live_server.url}/m/oauth/",
    ]
    # Reloading the card needs no new code
    assert member.code in phone.get(f"{live_server.url}/m/", allow_redirects=False).text


def test_a_follower_scanning_the_binding_qr_sends_scan_and_is_bound(fake_wechat, live_server, world):
    member = world.member
    fake_wechat.state.followers[OPENID] = {"unionid": fake_wechat.unionid_for(OPENID), "subscribe": 1}
    qr = wechat_binding_create(member=member, store=world.store, guide=world.clerk)
    members_before = Member.objects.count()

    _scan(fake_wechat, live_server, qr.ticket)

    assert Member.objects.count() == members_before
    assert _ids(member)["wechat_openid"] == OPENID
    assert BindingScene.objects.get(token=qr.scene.removeprefix("bind:")).used_by_openid == OPENID


def test_an_openid_bound_to_another_member_is_a_conflict_the_console_merges(
    fake_wechat, live_server, world, admin_client
):
    # Given a walk-in follower became a member through the store's permanent QR code
    store_qr = wechat_store_qr_create(store=world.store, guide=world.clerk)
    _scan(fake_wechat, live_server, store_qr.ticket)
    walk_in = Member.objects.get(identities__value=OPENID)
    assert (walk_in.join_store, walk_in.recruited_by, walk_in.phone) == (world.store, world.clerk, None)

    # When the same customer later scans the binding QR of their phone membership
    qr = wechat_binding_create(member=world.member, store=world.store, guide=world.clerk)
    _scan(fake_wechat, live_server, qr.ticket)

    # Then nothing moved: the conflict waits in the console
    assert _ids(world.member) == {}
    [conflict] = BindingConflict.objects.all()
    assert (conflict.member, conflict.bound_member, conflict.openid) == (world.member, walk_in, OPENID)
    listing = admin_client.get("/admin/members/bindingconflict/")
    assert OPENID in listing.content.decode()

    # And the console's merge action calls the merge service: one member with the phone and the openid
    admin_client.post(
        "/admin/members/bindingconflict/",
        {"action": "merge_into_bound_member", "_selected_action": [conflict.pk]},
    )
    walk_in.refresh_from_db()
    world.member.refresh_from_db()
    assert world.member.status == Member.Status.MERGED and world.member.merged_into == walk_in
    assert walk_in.phone == MY_PHONE  # the phone moved to the survivor: one member with phone and openid
    assert _ids(walk_in)["wechat_openid"] == OPENID
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None


@pytest.mark.parametrize("case", ["expired", "replayed", "merged", "erased"])
def test_a_bad_scene_changes_nothing(fake_wechat, live_server, world, case):
    qr = wechat_binding_create(member=world.member, store=world.store, guide=world.clerk)
    token = qr.scene.removeprefix("bind:")
    if case == "expired":
        BindingScene.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "replayed":
        _scan(fake_wechat, live_server, qr.ticket, openid="oFirstScanner1")
    elif case == "merged":
        member_merge(survivor=world.other_member, merged=world.member)
    else:
        member_erase(member=world.member)
    members = list(Member.objects.order_by("pk").values_list("pk", "status", "phone"))
    identities = list(Identity.objects.order_by("pk").values_list("pk", "member_id", "value"))

    answer = _scan(fake_wechat, live_server, qr.ticket, openid="oSomeoneElse1")

    assert answer.status_code == 200  # WeChat gets its answer (no retries); we change nothing
    assert list(Member.objects.order_by("pk").values_list("pk", "status", "phone")) == members
    assert list(Identity.objects.order_by("pk").values_list("pk", "member_id", "value")) == identities
    assert not Identity.objects.filter(value="oSomeoneElse1").exists()


def test_a_callback_with_a_bad_signature_is_refused_and_changes_nothing(fake_wechat, live_server, world):
    qr = wechat_binding_create(member=world.member)
    answer = fake_wechat.fire_event(
        callback_url=f"{live_server.url}/wechat/callback",
        token=settings.WECHAT_TOKEN,
        openid=OPENID,
        event="subscribe",
        key=f"qrscene_{qr.scene}",
        signature="0" * 40,
    )
    assert answer.status_code == 403
    assert _ids(world.member) == {}
    wecom = fake_wechat.wecom_add_contact(
        userid="zhaomin",
        unionid="oUnion",
        callback_url=f"{live_server.url}/wecom/callback",
        token=settings.WECOM_CALLBACK_TOKEN,
        aes_key=settings.WECOM_CALLBACK_AES_KEY,
        signature="0" * 40,
    )
    assert wecom.status_code == 403
    assert not WeComContact.objects.exists()


def _oauth_start(session: requests.Session, live_server) -> str:
    """Open /m/: the answer sends the phone to WeChat's authorize page (the state is kept in its session)."""
    return session.get(f"{live_server.url}/m/", allow_redirects=False).headers["Location"]


def _wechat_returns(authorize_url: str) -> str:
    """WeChat's authorize page answers with the way back: /m/oauth/?code=...&state=..."""
    return requests.get(authorize_url, allow_redirects=False).headers["Location"]


def test_oauth_refuses_a_wrong_state_and_a_used_code(fake_wechat, live_server, world):
    fake_wechat.sign_in(OPENID)
    Identity.objects.create(member=world.member, kind="wechat_openid", value=OPENID)

    # A wrong state: refused, and the phone is not signed in
    phone = requests.Session()
    code = re.search(r"code=([^&]+)", _wechat_returns(_oauth_start(phone, live_server))).group(1)
    forged = phone.get(f"{live_server.url}/m/oauth/?code={code}&state=forged", allow_redirects=False)
    assert forged.status_code == 400 and "not valid" in forged.text
    assert phone.get(f"{live_server.url}/m/", allow_redirects=False).status_code == 302  # back to WeChat

    # A code is good once: the first use signs in, the same code with another (valid) state is refused
    first = requests.Session()
    back = _wechat_returns(_oauth_start(first, live_server))
    assert first.get(back, allow_redirects=False).headers["Location"] == "/m/"
    assert world.member.code in first.get(f"{live_server.url}/m/").text
    used_code = re.search(r"code=([^&]+)", back).group(1)
    other = requests.Session()
    state = re.search(r"state=([^&#]+)", _oauth_start(other, live_server)).group(1)
    replay = other.get(f"{live_server.url}/m/oauth/?code={used_code}&state={state}", allow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text
    assert world.member.code not in other.get(f"{live_server.url}/m/", allow_redirects=False).text


def test_an_unknown_wechat_user_is_told_how_to_join(fake_wechat, live_server, world):
    fake_wechat.sign_in("oStranger0001")
    page = requests.get(f"{live_server.url}/m/")
    assert page.status_code == 200 and "You are not a member yet" in page.text
    assert Member.objects.count() == 2  # the world's two members; nobody was created


def test_a_wecom_step_reaches_the_contact_through_the_guide_who_added_them(fake_wechat, live_server, world):
    # Given the member is bound (with a unionid) and their guide adds them in WeCom
    member = world.member
    Member.objects.filter(pk=member.pk).update(joined_at=days_ago(30))
    qr = wechat_binding_create(member=member, store=world.store, guide=world.clerk)
    _scan(fake_wechat, live_server, qr.ticket)
    unionid = fake_wechat.unionid_for(OPENID)
    added = fake_wechat.wecom_add_contact(
        userid="zhaomin",
        unionid=unionid,
        callback_url=f"{live_server.url}/wecom/callback",
        token=settings.WECOM_CALLBACK_TOKEN,
        aes_key=settings.WECOM_CALLBACK_AES_KEY,
    )
    assert added.status_code == 200
    contact = WeComContact.objects.get()
    assert (contact.staff, contact.member, contact.external_userid) == (world.clerk, member, added.external_userid)
    # A second member of the same guide whom the guide never added in WeCom
    stranger = Member.objects.create(
        code="900000000017", phone="+8613800000017", joined_at=days_ago(30), recruited_by=world.clerk
    )
    Consent.objects.create(member=stranger, channel="wechat", granted=True, changed_at=timezone.now())

    # When a journey's WeCom step runs
    journey_with_steps("joined", {"offset": 30, "action": "wecom", "template_id": "", "content": "Hi {name}"})
    journeys_materialise()
    outbox_dispatch_due()

    # Then the guide's WeCom sends to the customer's external user id; the other member is skipped, with why
    [message] = fake_wechat.messages("wecom_group")
    assert message["body"]["external_userid"] == [added.external_userid]
    assert message["body"]["sender"] == "zhaomin"
    skipped = OutboxMessage.objects.get(member=stranger)
    assert (skipped.status, skipped.reason) == ("skipped", "not_added_by_guide_on_wecom")


def test_a_contact_added_before_the_binding_is_linked_by_the_unionid_conversion(fake_wechat, live_server, world):
    unionid = fake_wechat.unionid_for(OPENID)
    added = fake_wechat.wecom_add_contact(
        userid="zhaomin",
        unionid=unionid,
        callback_url=f"{live_server.url}/wecom/callback",
        token=settings.WECOM_CALLBACK_TOKEN,
        aes_key=settings.WECOM_CALLBACK_AES_KEY,
    )
    assert WeComContact.objects.get().member is None  # no member has this unionid yet

    qr = wechat_binding_create(member=world.member, store=world.store, guide=world.clerk)
    _scan(fake_wechat, live_server, qr.ticket)

    assert WeComContact.objects.get().member == world.member
    assert _ids(world.member)["wecom_external"] == added.external_userid
