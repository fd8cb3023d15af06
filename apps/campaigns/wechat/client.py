"""How we talk to WeChat: wechatpy clients with one shared access token and classified outcomes.

- The access token is fetched in one place, kept in the Django cache (Redis in production) and
  refreshed under a cache lock, so many workers share one token instead of invalidating each other's
  (each classic ``/token`` fetch ends the previous token). ``stable_token`` is used: it does not rotate.
- wechatpy's own retry is off (it retries token errors without limit) and every call has a timeout.
- Every send returns a ``SendResult`` saying what the caller should do: sent, retry later, give up for
  this member, stop because the configuration is wrong (codes per FIELD-NOTES.md), or leave it in doubt:
  a send whose request went out but whose answer never came (a read timeout, a connection dropped before
  the answer) may have reached the member, and sending it again could deliver it twice.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import requests
import urllib3
from django.conf import settings
from django.core.cache import cache
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException

logger = logging.getLogger(__name__)

Status = Literal["sent", "retry", "permanent_failure", "fatal", "in_doubt"]

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
TRANSIENT_ERRORS = frozenset({-1, 45011})
QUOTA_ERRORS = frozenset({45009})
PERMANENT_ERRORS = frozenset({40003, 43004, 43101, 45015, 45047})
FATAL_ERRORS = frozenset({40013, 40125, 47003, 48001})

RETRY_AFTER_TRANSIENT = 30
RETRY_AFTER_QUOTA = 3600  # 45009 is a daily quota: no hot retries
TOKEN_LOCK_SECONDS = 30


@dataclass(frozen=True)
class SendResult:
    status: Status
    errcode: int | None = None
    errmsg: str = ""
    msgid: str | None = None
    retry_after_seconds: int = 0

    @property
    def is_sent(self) -> bool:
        return self.status == "sent"


def classify(errcode: int | None, errmsg: str = "") -> SendResult:
    """What an error answer means for the sender."""
    if errcode in PERMANENT_ERRORS:
        return SendResult("permanent_failure", errcode, errmsg)
    if errcode in FATAL_ERRORS:
        return SendResult("fatal", errcode, errmsg)
    if errcode in QUOTA_ERRORS:
        return SendResult("retry", errcode, errmsg, retry_after_seconds=RETRY_AFTER_QUOTA)
    # Transient codes, token errors that survived one refresh, HTTP errors and unknown codes: retry later.
    return SendResult("retry", errcode, errmsg, retry_after_seconds=RETRY_AFTER_TRANSIENT)


class WeChatApiError(Exception):
    """WeChat refused a query or could not be reached; ``result`` says which (``errcode`` is WeChat's)."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(f"{result.errcode}: {result.errmsg}")
        self.result = result

    @property
    def errcode(self) -> int | None:
        return self.result.errcode


class TokenUnavailable(Exception):
    def __init__(self, result: SendResult) -> None:
        super().__init__(result.errmsg)
        self.result = result


class TokenProvider:
    """One access token per app, shared by every process through the cache, refreshed under a lock."""

    def __init__(self, *, kind: Literal["mp", "wecom"], app_id: str, secret: str, base_url: str, timeout: float):
        self.kind, self.app_id, self.secret, self.base_url, self.timeout = kind, app_id, secret, base_url, timeout
        self.cache_key = f"wechat:token:{kind}:{app_id}"
        self.http = requests.Session()

    def get(self) -> str:
        return cache.get(self.cache_key) or self.refresh(stale=None)

    def refresh(self, *, stale: str | None) -> str:
        """A token other than ``stale``: another process's fresh one if there is one, else fetched once."""
        lock_key = f"{self.cache_key}:lock"
        deadline = time.monotonic() + self.timeout * 2 + 1
        while True:
            current = cache.get(self.cache_key)
            if current and current != stale:
                return current
            if cache.add(lock_key, "1", timeout=TOKEN_LOCK_SECONDS):
                try:
                    current = cache.get(self.cache_key)
                    if current and current != stale:
                        return current
                    token, expires_in = self._fetch(force=stale is not None)
                    cache.set(self.cache_key, token, max(60, expires_in - 300))
                    return token
                finally:
                    cache.delete(lock_key)
            if time.monotonic() > deadline:
                raise TokenUnavailable(SendResult("retry", None, "access token refresh is taking too long", None, 5))
            time.sleep(0.05)

    def _fetch(self, *, force: bool) -> tuple[str, int]:
        try:
            if self.kind == "mp":
                response = self.http.post(
                    f"{self.base_url}stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": self.app_id,
                        "secret": self.secret,
                        "force_refresh": force,
                    },
                    timeout=self.timeout,
                )
            else:
                response = self.http.get(
                    f"{self.base_url}gettoken",
                    params={"corpid": self.app_id, "corpsecret": self.secret},
                    timeout=self.timeout,
                )
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise TokenUnavailable(SendResult("retry", None, f"token fetch failed: {exc}", None, 5)) from exc
        if body.get("errcode"):
            raise TokenUnavailable(classify(int(body["errcode"]), body.get("errmsg", "")))
        logger.info("fetched a WeChat access token (%s %s)", self.kind, self.app_id)
        return body["access_token"], int(body.get("expires_in", 7200))


class _SharedTokenMixin:
    """Make a wechatpy client take its token from our provider instead of its own per-process storage."""

    provider: TokenProvider

    @property
    def access_token(self) -> str:
        return self.provider.get()

    def fetch_access_token(self) -> str:
        return self.provider.refresh(stale=None)


class _MpClient(_SharedTokenMixin, WeChatClient):
    pass


class _WeComClient(_SharedTokenMixin, WeComClient):
    pass


class WeChatSender:
    """Sends through wechatpy and says what happened; never raises for WeChat's answers."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        api_base_url: str,
        corp_id: str,
        corp_secret: str,
        wecom_api_base_url: str,
        timeout: float,
    ) -> None:
        self.mp_tokens = TokenProvider(
            kind="mp", app_id=app_id, secret=app_secret, base_url=api_base_url, timeout=timeout
        )
        self.wecom_tokens = TokenProvider(
            kind="wecom", app_id=corp_id, secret=corp_secret, base_url=wecom_api_base_url, timeout=timeout
        )
        self.mp = _MpClient(app_id, app_secret, timeout=timeout, auto_retry=False)
        self.mp.provider = self.mp_tokens
        self.mp.API_BASE_URL = api_base_url
        self.wecom = _WeComClient(corp_id, corp_secret, timeout=timeout, auto_retry=False)
        self.wecom.provider = self.wecom_tokens
        self.wecom.API_BASE_URL = wecom_api_base_url
        for client, base_url in ((self.mp, api_base_url), (self.wecom, wecom_api_base_url)):
            _environment_read_once(client._http, base_url)

    @classmethod
    def from_settings(cls, *, fresh: bool = False) -> WeChatSender:
        """The process's sender for the current settings; ``fresh``: a new one (one per sending thread)."""
        return (_sender_for.__wrapped__ if fresh else _sender_for)(
            settings.WECHAT_APP_ID,
            settings.WECHAT_APP_SECRET,
            settings.WECHAT_API_BASE_URL,
            settings.WECOM_CORP_ID,
            settings.WECOM_SECRET,
            settings.WECOM_API_BASE_URL,
            settings.WECHAT_TIMEOUT_SECONDS,
        )

    def _call(self, provider: TokenProvider, call: Any) -> SendResult:
        refreshed = False
        while True:
            sent = False
            try:
                token = provider.get()
                sent = True
                answer = call()
            except TokenUnavailable as exc:
                return exc.result
            except WeChatClientException as exc:
                errcode = exc.errcode
                if errcode is None:  # an HTTP error status from WeChat
                    status = getattr(exc.response, "status_code", None)
                    return SendResult("retry", None, f"HTTP {status}", retry_after_seconds=RETRY_AFTER_TRANSIENT)
                if errcode in TOKEN_ERRORS and not refreshed:
                    refreshed = True
                    try:
                        provider.refresh(stale=token)
                    except TokenUnavailable as token_exc:
                        return token_exc.result
                    continue
                return classify(int(errcode), str(exc.errmsg or ""))
            except requests.ReadTimeout as exc:
                if sent:  # the message went out and WeChat may have it: never resend on our own
                    return SendResult("in_doubt", None, exc.__class__.__name__)
                return SendResult("retry", None, exc.__class__.__name__, retry_after_seconds=RETRY_AFTER_TRANSIENT)
            except requests.ConnectionError as exc:
                # The connection broke after the request was written (urllib3's ProtocolError: aborted, reset, no
                # answer): WeChat may have the message. A connection that was never made sent nothing.
                if sent and exc.args and isinstance(exc.args[0], urllib3.exceptions.ProtocolError):
                    return SendResult("in_doubt", None, f"{exc.__class__.__name__}: {exc.args[0]}"[:255])
                return SendResult("retry", None, exc.__class__.__name__, retry_after_seconds=RETRY_AFTER_TRANSIENT)
            except requests.RequestException as exc:  # no connection, or the token fetch failed: nothing went out
                return SendResult("retry", None, exc.__class__.__name__, retry_after_seconds=RETRY_AFTER_TRANSIENT)
            msgid = answer.get("msgid") if isinstance(answer, dict) else None
            return SendResult("sent", 0, "ok", None if msgid is None else str(msgid))

    def query(self, *, wecom: bool = False, call: Any) -> dict:
        """A non-message API call (``call(client)``) with the same token handling; ``WeChatApiError`` when
        WeChat refuses it or cannot be reached."""
        client, provider = (self.wecom, self.wecom_tokens) if wecom else (self.mp, self.mp_tokens)
        answers: list[dict] = []

        def run() -> dict:
            answers.append(call(client))
            return answers[-1]

        result = self._call(provider, run)
        if not result.is_sent:
            raise WeChatApiError(result)
        return answers[-1]

    def send_template(self, *, openid: str, template_id: str, data: dict, url: str | None = None) -> SendResult:
        """An Official Account template message (service notices only; no marketing content)."""
        return self._call(self.mp_tokens, lambda: self.mp.message.send_template(openid, template_id, data, url=url))

    def send_subscribe(self, *, openid: str, template_id: str, data: dict, page: str | None = None) -> SendResult:
        """A subscribe message, which the member agreed to receive."""
        return self._call(
            self.mp_tokens, lambda: self.mp.message.send_subscribe_message(openid, template_id, data, page=page)
        )

    def send_custom_text(self, *, openid: str, text: str) -> SendResult:
        """A customer-service text (only inside WeChat's 48-hour window after the member wrote)."""
        return self._call(self.mp_tokens, lambda: self.mp.message.send_text(openid, text))

    def wecom_add_msg_template(self, *, sender_userid: str, external_userid: str, text: str) -> SendResult:
        """Ask a shopping guide to send ``text`` to their customer from WeCom (the guide confirms it)."""
        template = {"external_userid": [external_userid], "sender": sender_userid, "text": {"content": text}}
        return self._call(self.wecom_tokens, lambda: self.wecom.external_contact.add_msg_template(template))


def _environment_read_once(session: requests.Session, base_url: str) -> None:
    """Read proxy and CA settings from the environment once, not on every request (requests scans the
    whole environment per request when ``trust_env`` is on: a measurable share of a send's CPU)."""
    session.proxies = requests.utils.get_environ_proxies(base_url)
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False


@lru_cache(maxsize=8)
def _sender_for(*config: Any) -> WeChatSender:
    app_id, app_secret, api_base_url, corp_id, corp_secret, wecom_api_base_url, timeout = config
    return WeChatSender(
        app_id=app_id,
        app_secret=app_secret,
        api_base_url=api_base_url,
        corp_id=corp_id,
        corp_secret=corp_secret,
        wecom_api_base_url=wecom_api_base_url,
        timeout=timeout,
    )
