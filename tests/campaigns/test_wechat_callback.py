import time

from django.utils import timezone

from apps.campaigns.wechat.callback import dedupe_key, signature_for, signature_is_valid

TOKEN = "demo-callback-token"


def test_a_fresh_correct_signature_is_accepted():
    ts = str(int(time.time()))
    assert signature_is_valid(token=TOKEN, signature=signature_for(TOKEN, ts, "n1"), timestamp=ts, nonce="n1")


def test_a_wrong_signature_is_refused():
    ts = str(int(time.time()))
    assert not signature_is_valid(token=TOKEN, signature="0" * 40, timestamp=ts, nonce="n1")
    assert not signature_is_valid(token=TOKEN, signature=signature_for("other", ts, "n1"), timestamp=ts, nonce="n1")


def test_a_replayed_old_request_is_refused_even_with_a_valid_signature():
    ts = str(int(time.time()) - 3600)
    assert not signature_is_valid(token=TOKEN, signature=signature_for(TOKEN, ts, "n1"), timestamp=ts, nonce="n1")
    assert not signature_is_valid(token=TOKEN, signature="x", timestamp="not-a-number", nonce="n1")


def test_retries_of_one_callback_share_a_dedupe_key():
    event = (
        "<xml><ToUserName>gh_1</ToUserName><FromUserName>oAbC123456</FromUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_store:SH001</EventKey></xml>"
    )
    text = (
        "<xml><ToUserName>gh_1</ToUserName><FromUserName>oAbC123456</FromUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType>text</MsgType><Content>hi</Content><MsgId>1234567890</MsgId></xml>"
    )
    assert dedupe_key(event) == dedupe_key(event) == "event:oAbC123456:1700000000:subscribe_scan"
    assert dedupe_key(text) == "msg:1234567890"


# -- the /wechat/callback endpoint ---------------------------------------------------------------------------

import pytest  # noqa: E402
from django.test import Client  # noqa: E402

from apps.campaigns.models import OutboxMessage  # noqa: E402
from apps.campaigns.services import outbox_dispatch_batch  # noqa: E402
from apps.members.models import Consent, Identity, Member  # noqa: E402
from tests.factories import StaffFactory, StoreFactory  # noqa: E402

from .factories import reachable_member  # noqa: E402


def _signed(nonce: str = "n1") -> str:
    ts = str(int(time.time()))
    return f"signature={signature_for(TOKEN, ts, nonce)}&timestamp={ts}&nonce={nonce}"


def _event(openid: str, event: str, *, key: str = "", created: int = 1700000000, extra: str = "") -> str:
    return (
        f"<xml><ToUserName>gh_1</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType>event</MsgType><Event>{event}</Event><EventKey>{key}</EventKey>{extra}</xml>"
    )


def _post(xml: str) -> object:
    return Client().post(f"/wechat/callback?{_signed()}", xml, content_type="text/xml")


@pytest.fixture(autouse=True)
def _token(settings):
    settings.WECHAT_TOKEN = TOKEN


def test_the_echo_check_answers_only_a_signed_request(db):
    assert Client().get(f"/wechat/callback?{_signed()}&echostr=hello").content == b"hello"
    bad = Client().get("/wechat/callback?signature=x&timestamp=1&nonce=n&echostr=hello")
    assert bad.status_code == 403
    assert (
        Client().post("/wechat/callback?signature=x&timestamp=1&nonce=n", "<xml/>", content_type="text/xml").status_code
        == 403
    )


@pytest.mark.django_db
def test_scanning_a_store_guide_code_registers_a_new_follower_attributed_to_them():
    store = StoreFactory(code="S001")
    guide = StaffFactory(code="G01", stores=[store])

    response = _post(_event("oNewFan0001", "subscribe", key="qrscene_store:S001:guide:G01"))

    assert response.status_code == 200 and response.content == b"success"
    member = Member.objects.get(identities__value="oNewFan0001")
    assert (member.join_store, member.recruited_by, member.phone) == (store, guide, None)
    assert Consent.objects.get(member=member, channel="wechat").granted


@pytest.mark.django_db
def test_unsubscribe_withdraws_consent_and_a_later_scan_attributes_without_overwriting():
    member = reachable_member()
    first, other = StoreFactory(code="S001"), StoreFactory(code="S002")
    openid = Identity.objects.get(member=member).value

    _post(_event(openid, "SCAN", key="store:S001", created=1700000001))
    _post(_event(openid, "unsubscribe", created=1700000002))
    member.refresh_from_db()
    assert member.join_store == first
    assert not Consent.objects.get(member=member, channel="wechat").granted

    _post(_event(openid, "subscribe", key="qrscene_store:S002", created=1700000003))
    member.refresh_from_db()
    assert member.join_store == first != other  # the first attribution stays
    assert Consent.objects.get(member=member, channel="wechat").granted


@pytest.mark.django_db
def test_a_retried_callback_is_applied_once():
    xml = _event("oRetryFan01", "subscribe", created=1700000010)
    for _ in range(3):
        assert _post(xml).status_code == 200
    assert Member.objects.filter(identities__value="oRetryFan01").count() == 1
    from apps.members.models import ConsentEvent

    assert ConsentEvent.objects.filter(member__identities__value="oRetryFan01").count() == 1


@pytest.mark.django_db
def test_template_delivery_reports_land_on_the_outbox_row(fake_wechat, settings):
    settings.CAMPAIGN_QUIET_HOURS = "0-0"
    member = reachable_member()
    row = OutboxMessage.objects.create(
        touch_key="t:1",
        member=member,
        kind="template",
        recipient="oDelivered01",
        template_id="T",
        next_attempt_at=timezone.now(),
    )
    outbox_dispatch_batch()
    row.refresh_from_db()

    _post(
        _event(
            "oDelivered01",
            "TEMPLATESENDJOBFINISH",
            extra=f"<MsgID>{row.msgid}</MsgID><Status>failed:user block</Status>",
        )
    )

    row.refresh_from_db()
    assert (row.status, row.reason) == ("failed", "failed:user block")
