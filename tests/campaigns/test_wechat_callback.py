import time

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
