"""Our WeChat sender against the fake WeChat server over real HTTP."""

import socket
import threading
import time

from apps.campaigns.wechat.client import WeChatSender, _sender_for

OPENID = "oAbCdEf123456"


def _template(sender, openid=OPENID):
    return sender.send_template(openid=openid, template_id="TPL1", data={"name": {"value": "Li"}})


def test_a_template_message_reaches_wechat_once(sender, fake_wechat):
    result = _template(sender)

    assert result.status == "sent" and result.msgid
    [message] = fake_wechat.messages("template")
    assert message["to"] == [OPENID] and message["body"]["template_id"] == "TPL1"
    assert message["body"]["data"] == {"name": {"value": "Li"}}


def test_subscribe_custom_and_wecom_messages_are_sent(sender, fake_wechat):
    assert sender.send_subscribe(openid=OPENID, template_id="SUB1", data={"thing1": {"value": "x"}}).is_sent
    assert sender.send_custom_text(openid=OPENID, text="hello").is_sent
    assert sender.wecom_add_msg_template(sender_userid="G001", external_userid="wmEXT01", text="hi").is_sent
    assert [m["kind"] for m in fake_wechat.messages()] == ["subscribe", "custom", "wecom_group"]
    assert fake_wechat.state.wecom_token_fetches == 1


def test_the_token_is_fetched_once_and_shared_by_every_sender(sender, fake_wechat):
    other = WeChatSender.from_settings()
    _sender_for.cache_clear()
    third = WeChatSender.from_settings()
    assert third is not sender

    for s in (sender, other, third, sender):
        assert _template(s).is_sent

    assert fake_wechat.state.stable_token_fetches == 1
    assert fake_wechat.state.token_fetches == 0  # never the rotating classic endpoint


def test_an_invalid_token_is_refreshed_once_and_the_send_succeeds(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.fail_next({"errcode": 40001})

    result = _template(sender)

    assert result.is_sent
    assert len(fake_wechat.messages()) == 2
    assert fake_wechat.state.stable_token_fetches == 2


def test_a_token_error_that_persists_is_retried_later_not_in_a_loop(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.fail_next({"errcode": 42001}, {"errcode": 42001}, {"errcode": 42001})

    result = _template(sender)

    assert result.status == "retry" and result.errcode == 42001
    assert fake_wechat.state.requests == 3  # the first send, then one try and one retry after refreshing
    assert fake_wechat.state.stable_token_fetches == 2


def test_expired_tokens_are_replaced(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.expire_tokens()
    assert _template(sender).is_sent
    assert len(fake_wechat.messages()) == 2


def test_unsubscribed_and_invalid_openids_fail_for_good(sender, fake_wechat):
    fake_wechat.fail_openid("oUnsubscribed1", 43004)

    unsubscribed = _template(sender, "oUnsubscribed1")
    invalid = _template(sender, "bad id!")

    assert (unsubscribed.status, unsubscribed.errcode) == ("permanent_failure", 43004)
    assert (invalid.status, invalid.errcode) == ("permanent_failure", 40003)
    assert fake_wechat.messages() == []


def test_busy_server_errors_are_retried_later(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.fail_next({"errcode": -1}, {"http_status": 500})

    busy, http_error = _template(sender), _template(sender)

    assert (busy.status, busy.errcode) == ("retry", -1)
    assert http_error.status == "retry" and http_error.errmsg == "HTTP 500"
    assert busy.retry_after_seconds > 0
    assert len(fake_wechat.messages()) == 1


def test_no_answer_in_time_leaves_the_send_in_doubt_because_wechat_may_have_it(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.fail_next({"delay_ms": 1500})  # longer than the 1 s timeout; then WeChat takes it

    late = _template(sender)

    assert late.status == "in_doubt" and "Timeout" in late.errmsg
    deadline = time.monotonic() + 5
    while len(fake_wechat.messages()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_wechat.messages()) == 2  # it did arrive: sending it again would have sent it twice


def test_a_connection_dropped_before_the_answer_leaves_the_send_in_doubt(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.fail_next({"disconnect": True})  # WeChat takes the message, the answer never comes

    dropped = _template(sender)

    assert dropped.status == "in_doubt" and "ConnectionError" in dropped.errmsg
    assert len(fake_wechat.messages()) == 2
    assert _template(sender).is_sent  # the next send opens a new connection
    assert len(fake_wechat.messages()) == 3


def test_nothing_sent_when_wechat_cannot_be_reached_is_retried_later(fake_wechat, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        settings.WECHAT_API_BASE_URL = f"http://127.0.0.1:{s.getsockname()[1]}"
    unreachable = WeChatSender.from_settings(fresh=True)

    result = _template(unreachable)

    assert result.status == "retry" and result.retry_after_seconds > 0
    assert fake_wechat.messages() == []


def test_quota_exhaustion_waits_instead_of_hammering(sender, fake_wechat):
    fake_wechat.set_quota(1)
    assert _template(sender).is_sent

    result = _template(sender)

    assert (result.status, result.errcode) == ("retry", 45009)
    assert result.retry_after_seconds >= 3600


def test_a_wrong_secret_is_fatal(fake_wechat, settings):
    settings.WECHAT_APP_SECRET = "not-the-secret"
    result = _template(WeChatSender.from_settings())
    assert (result.status, result.errcode) == ("fatal", 40125)


def test_many_workers_with_an_expired_token_refresh_it_once(sender, fake_wechat):
    assert _template(sender).is_sent
    fake_wechat.expire_tokens()
    results = []

    def work():
        results.append(_template(WeChatSender.from_settings()))

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [r.status for r in results] == ["sent"] * 20
    assert len(fake_wechat.messages()) == 21
    assert fake_wechat.state.stable_token_fetches == 2  # the first fetch and one shared refresh
