"""A local fake of the WeChat Official Account and WeCom APIs, for tests and the demo.

Real HTTP on loopback, WeChat's paths, JSON bodies and error codes, so wechatpy and our sender are
exercised exactly as against WeChat. It records every accepted message and injects faults on request:
per-openid errors, the next N answers (errcodes, HTTP 500, slow answers), a message quota, expired tokens.
No Django needed: ``FakeWeChat().start()`` in tests, ``manage.py fake_wechat`` for the demo.

Control endpoints (also available in-process): ``GET /_fake/messages``, ``POST /_fake/faults``,
``POST /_fake/reset``, ``POST /_fake/sign_in`` (the WeChat user the OAuth page signs in), ``POST /_fake/scan``
(a user scans a QR: WeChat's signed ``subscribe``/``SCAN`` callback goes to the given URL); in-process also
``wecom_add_contact`` (a guide adds a customer: WeCom's encrypted ``change_external_contact`` callback).
``GET /_fake/phone`` is a simulated phone for the demo (scan the QR codes, open the card inside WeChat).

WeChat endpoints served: token, stable_token, gettoken, message sends, ``qrcode/create``, ``showqrcode``,
``user/info``, ``connect/oauth2/authorize``, ``sns/oauth2/access_token``, ``externalcontact/get`` and
``externalcontact/unionid_to_external_userid``.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40029: "invalid code",
    40053: "invalid action info",
    40163: "code been used",
    40096: "invalid external userid",
    84061: "not external contact",
    40013: "invalid appid",
    40125: "invalid appsecret",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    47001: "data format error",
    48001: "api unauthorized",
}


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class FakeState:
    app_id: str = "wx-demo-app"
    app_secret: str = "demo-secret"
    corp_id: str = "ww-demo-corp"
    corp_secret: str = "demo-wecom-secret"
    #: How long the previous classic token stays valid after a rotation (WeChat: 5 minutes).
    overlap_seconds: float = 300.0
    token_ttl_seconds: int = 7200
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, _Token] = field(default_factory=dict)
    stable_token: str | None = None
    wecom_tokens: dict[str, _Token] = field(default_factory=dict)
    token_fetches: int = 0
    stable_token_fetches: int = 0
    wecom_token_fetches: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    openid_errors: dict[str, int] = field(default_factory=dict)
    next_faults: list[dict[str, Any]] = field(default_factory=list)
    quota: int | None = None
    delay_ms: int = 0
    msgids: itertools.count = field(default_factory=lambda: itertools.count(1000001))
    #: Is the Official Account linked to an Open Platform account (then followers have a unionid)?
    has_unionid: bool = True
    followers: dict[str, dict[str, Any]] = field(default_factory=dict)  # openid -> {"unionid", "subscribe"}
    qrcodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticket -> {"scene", "url", "expires_at"}
    oauth_user: str | None = None  # the WeChat user "signed in" on the fake OAuth page
    oauth_codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> {"openid", "used"}
    wecom_contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # external_userid -> {"unionid", "userids"}
    #: Where the simulated phone (``/_fake/phone``) delivers scans and opens the card: our site, and its token.
    site_url: str = ""
    callback_token: str = ""


class FakeWeChat:
    """The fake server; ``start()`` binds 127.0.0.1 (port 0 picks a free one) and serves in a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **state: Any) -> None:
        self.state = FakeState(**state)
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/cgi-bin/"

    def start(self) -> FakeWeChat:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- control ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.state.lock:
            keep = {
                k: getattr(self.state, k)
                for k in ("app_id", "app_secret", "corp_id", "corp_secret", "has_unionid", "site_url", "callback_token")
            }
            self.state = FakeState(**keep)

    def fail_openid(self, openid: str, errcode: int) -> None:
        """Answer every message to ``openid`` with ``errcode`` (43004 unsubscribed, 40003 invalid...)."""
        with self.state.lock:
            self.state.openid_errors[openid] = errcode

    def fail_next(self, *faults: dict[str, Any]) -> None:
        """Queue faults for the next message requests: ``{"errcode": -1}``, ``{"http_status": 500}``,
        ``{"delay_ms": 3000}`` (then answers normally), ``{"disconnect": True}`` (takes the message, then drops
        the connection without an answer)."""
        with self.state.lock:
            self.state.next_faults.extend(faults)

    def set_quota(self, remaining: int | None) -> None:
        """After ``remaining`` more accepted messages, answer 45009 until reset."""
        with self.state.lock:
            self.state.quota = remaining

    def set_delay(self, delay_ms: int) -> None:
        with self.state.lock:
            self.state.delay_ms = delay_ms

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (42001)."""
        with self.state.lock:
            for token in [*self.state.tokens.values(), *self.state.wecom_tokens.values()]:
                token.expires_at = time.time() - 1
            self.state.stable_token = None

    # -- the WeChat user's side: scanning, signing in, being added by a guide --------------------------------
    def unionid_for(self, openid: str) -> str | None:
        return f"oU{hashlib.sha1(openid.encode()).hexdigest()[:26]}" if self.state.has_unionid else None

    def scan(self, *, ticket: str, openid: str, callback_url: str, token: str) -> Any:
        """A WeChat user scans the QR of ``ticket``: WeChat sends ``subscribe`` with ``qrscene_<scene>`` to a
        new follower, ``SCAN`` with the scene to a follower. An expired or unknown QR raises no event."""
        with self.state.lock:
            qr = self.state.qrcodes.get(ticket)
            if qr is None or (qr["expires_at"] is not None and qr["expires_at"] <= time.time()):
                return None
            follower = self.state.followers.setdefault(openid, {"unionid": self.unionid_for(openid), "subscribe": 0})
            first = not follower["subscribe"]
            follower["subscribe"] = 1
        event, key = ("subscribe", f"qrscene_{qr['scene']}") if first else ("SCAN", qr["scene"])
        return self.fire_event(
            callback_url=callback_url,
            token=token,
            openid=openid,
            event=event,
            key=key,
            extra=f"<Ticket>{ticket}</Ticket>",
        )

    def fire_event(
        self,
        *,
        callback_url: str,
        token: str,
        openid: str,
        event: str,
        key: str = "",
        extra: str = "",
        signature: str | None = None,
    ) -> Any:
        """POST a signed event callback to the Official Account's server, as WeChat does."""
        import requests

        created = int(time.time())
        xml = (
            f"<xml><ToUserName><![CDATA[gh_fake]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]>"
            f"</Event><EventKey><![CDATA[{key}]]></EventKey>{extra}</xml>"
        )
        nonce = secrets.token_hex(4)
        sign = signature or hashlib.sha1("".join(sorted([token, str(created), nonce])).encode()).hexdigest()
        return requests.post(
            callback_url,
            params={"signature": sign, "timestamp": str(created), "nonce": nonce, "openid": openid},
            data=xml.encode(),
            headers={"Content-Type": "text/xml"},
            timeout=10,
        )

    def sign_in(self, openid: str | None) -> None:
        """The WeChat user the fake OAuth page signs in (as if the page were opened inside their WeChat)."""
        with self.state.lock:
            self.state.oauth_user = openid
            if openid:
                self.state.followers.setdefault(openid, {"unionid": self.unionid_for(openid), "subscribe": 0})

    def wecom_add_contact(
        self, *, userid: str, unionid: str, callback_url: str, token: str, aes_key: str, signature: str | None = None
    ) -> Any:
        """Guide ``userid`` adds the customer with ``unionid`` in WeCom: WeCom sends ``change_external_contact``
        (``add_external_contact``), encrypted and signed, to the corp's callback URL."""
        import requests
        from wechatpy.enterprise.crypto import WeChatCrypto

        external_userid = f"wm{hashlib.sha1(unionid.encode()).hexdigest()[:28]}"
        with self.state.lock:
            contact = self.state.wecom_contacts.setdefault(external_userid, {"unionid": unionid, "userids": []})
            if userid not in contact["userids"]:
                contact["userids"].append(userid)
        created = str(int(time.time()))
        xml = (
            f"<xml><ToUserName><![CDATA[{self.state.corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]>"
            f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]>"
            f"</ChangeType><UserID><![CDATA[{userid}]]></UserID><ExternalUserID><![CDATA[{external_userid}]]>"
            f"</ExternalUserID><WelcomeCode><![CDATA[{secrets.token_hex(8)}]]></WelcomeCode></xml>"
        )
        nonce = secrets.token_hex(4)
        crypto = WeChatCrypto(token, aes_key, self.state.corp_id)
        body = crypto.encrypt_message(xml, nonce, created)
        if signature is not None:
            body = re.sub(
                r"<MsgSignature><!\[CDATA\[[^\]]*\]\]></MsgSignature>",
                f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>",
                body,
            )
        sign = signature or re.search(r"<MsgSignature><!\[CDATA\[([^\]]*)\]\]>", body).group(1)
        response = requests.post(
            callback_url,
            params={"msg_signature": sign, "timestamp": created, "nonce": nonce},
            data=body.encode(),
            headers={"Content-Type": "text/xml"},
            timeout=10,
        )
        response.external_userid = external_userid
        return response

    def messages(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [m for m in self.state.messages if kind is None or m["kind"] == kind]

    # -- behaviour ----------------------------------------------------------------------------------------
    def _issue(self, pool: dict[str, _Token]) -> _Token:
        token = _Token(secrets.token_urlsafe(24), time.time() + self.state.token_ttl_seconds)
        pool[token.value] = token
        return token

    def classic_token(self, appid: str, secret: str) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            if appid != self.state.app_id:
                return 200, _error(40013)
            if secret != self.state.app_secret:
                return 200, _error(40125)
            self.state.token_fetches += 1
            # A new classic token ends the others after the overlap window.
            overlap_end = time.time() + self.state.overlap_seconds
            for old in self.state.tokens.values():
                old.expires_at = min(old.expires_at, overlap_end)
            token = self._issue(self.state.tokens)
            return 200, {"access_token": token.value, "expires_in": self.state.token_ttl_seconds}

    def stable_token_fetch(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            if body.get("appid") != self.state.app_id:
                return 200, _error(40013)
            if body.get("secret") != self.state.app_secret:
                return 200, _error(40125)
            self.state.stable_token_fetches += 1
            current = self.state.tokens.get(self.state.stable_token or "")
            if body.get("force_refresh") or current is None or current.expires_at <= time.time():
                current = self._issue(self.state.tokens)
                self.state.stable_token = current.value
            return 200, {"access_token": current.value, "expires_in": int(current.expires_at - time.time())}

    def wecom_token(self, corpid: str, secret: str) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            if corpid != self.state.corp_id or secret != self.state.corp_secret:
                return 200, _error(40013 if corpid != self.state.corp_id else 40001)
            self.state.wecom_token_fetches += 1
            token = self._issue(self.state.wecom_tokens)
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": token.value, "expires_in": 7200}

    def message(self, kind: str, token: str, body: dict[str, Any], *, wecom: bool = False) -> tuple[int | None, Any]:
        with self.state.lock:
            self.state.requests += 1
            fault = self.state.next_faults.pop(0) if self.state.next_faults else None
            delay = (fault or {}).get("delay_ms", 0) or self.state.delay_ms
        if delay:
            time.sleep(delay / 1000)
        with self.state.lock:
            if fault and "http_status" in fault:
                return fault["http_status"], {"error": "injected"}
            if fault and "errcode" in fault:
                return 200, _error(fault["errcode"])
            pool = self.state.wecom_tokens if wecom else self.state.tokens
            known = pool.get(token)
            if known is None:
                return 200, _error(40001)
            if known.expires_at <= time.time():
                return 200, _error(42001)
            recipients = _recipients(kind, body)
            if not recipients:
                return 200, _error(47001)
            for openid in recipients:
                if kind in {"template", "subscribe", "custom"} and not OPENID.match(openid):
                    return 200, _error(40003)
                if openid in self.state.openid_errors:
                    return 200, _error(self.state.openid_errors[openid])
            if self.state.quota is not None:
                if self.state.quota <= 0:
                    return 200, _error(45009)
                self.state.quota -= 1
            msgid = next(self.state.msgids)
            self.state.messages.append(
                {"kind": kind, "to": recipients, "body": body, "msgid": msgid, "at": time.time()}
            )
        if fault and fault.get("disconnect"):
            return None, None
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": msgid}
        if kind == "wecom_group":
            answer = {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": f"msg{msgid}"}
        return 200, answer


def _token_error(state: FakeState, token: str, *, wecom: bool = False) -> dict[str, Any] | None:
    known = (state.wecom_tokens if wecom else state.tokens).get(token)
    if known is None:
        return _error(40001)
    if known.expires_at <= time.time():
        return _error(42001)
    return None


def _injected(fake: FakeWeChat) -> tuple[int, dict[str, Any]] | None:
    """The next queued fault (``fail_next``) as an answer, for the account APIs as for messages."""
    with fake.state.lock:
        fault = fake.state.next_faults.pop(0) if fake.state.next_faults else None
    if fault and "http_status" in fault:
        return fault["http_status"], {"error": "injected"}
    if fault and "errcode" in fault:
        return 200, _error(fault["errcode"])
    return None


def _qrcode_create(fake: FakeWeChat, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if (fault := _injected(fake)) is not None:
        return fault
    with fake.state.lock:
        if (error := _token_error(fake.state, token)) is not None:
            return 200, error
        action = body.get("action_name")
        scene = ((body.get("action_info") or {}).get("scene") or {}).get("scene_str")
        if action not in {"QR_STR_SCENE", "QR_LIMIT_STR_SCENE"} or not isinstance(scene, str):
            return 200, _error(40053)
        if not 1 <= len(scene) <= 64:
            return 200, _error(40053)
        seconds = None
        if action == "QR_STR_SCENE":
            seconds = min(int(body.get("expire_seconds") or 60), 2592000)
        ticket = "gQ" + secrets.token_urlsafe(30)
        url = f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"
        fake.state.qrcodes[ticket] = {
            "created": time.time(),
            "scene": scene,
            "url": url,
            "expires_at": time.time() + seconds if seconds else None,
        }
    answer: dict[str, Any] = {"ticket": ticket, "url": url}
    if seconds:
        answer["expire_seconds"] = seconds
    return 200, answer


def _user_info(fake: FakeWeChat, token: str, openid: str) -> tuple[int, dict[str, Any]]:
    if (fault := _injected(fake)) is not None:
        return fault
    with fake.state.lock:
        if (error := _token_error(fake.state, token)) is not None:
            return 200, error
        follower = fake.state.followers.get(openid)
        if follower is None or not OPENID.match(openid):
            return 200, _error(40003)
        info: dict[str, Any] = {"subscribe": follower["subscribe"], "openid": openid, "language": "zh_CN"}
        if follower["subscribe"]:
            info["subscribe_time"] = int(time.time())
        if follower.get("unionid"):
            info["unionid"] = follower["unionid"]
        return 200, info


def _oauth_token(fake: FakeWeChat, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    with fake.state.lock:
        if query.get("appid") != fake.state.app_id:
            return 200, _error(40013)
        if query.get("secret") != fake.state.app_secret:
            return 200, _error(40125)
        grant = fake.state.oauth_codes.get(query.get("code", ""))
        if grant is None or grant["expires_at"] <= time.time():
            return 200, _error(40029)
        if grant["used"]:
            return 200, _error(40163)
        grant["used"] = True
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(24),
            "openid": grant["openid"],
            "scope": "snsapi_base",
        }


def _wecom_unionid_to_external(fake: FakeWeChat, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with fake.state.lock:
        if (error := _token_error(fake.state, token, wecom=True)) is not None:
            return 200, error
        if not body.get("unionid") or not body.get("openid"):
            return 200, _error(47001)
        for external_userid, contact in fake.state.wecom_contacts.items():
            if contact["unionid"] == body["unionid"]:
                return 200, {"errcode": 0, "errmsg": "ok", "external_userid": external_userid}
        return 200, _error(84061)


def _wecom_contact_get(fake: FakeWeChat, token: str, external_userid: str) -> tuple[int, dict[str, Any]]:
    with fake.state.lock:
        if (error := _token_error(fake.state, token, wecom=True)) is not None:
            return 200, error
        contact = fake.state.wecom_contacts.get(external_userid)
        if contact is None:
            return 200, _error(40096)
        return 200, {
            "errcode": 0,
            "errmsg": "ok",
            "external_contact": {"external_userid": external_userid, "type": 1, "unionid": contact["unionid"]},
            "follow_user": [{"userid": u} for u in contact["userids"]],
        }


def _error(errcode: int) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")}


def _recipients(kind: str, body: dict[str, Any]) -> list[str]:
    if kind == "wecom_group":
        return list(body.get("external_userid") or [])
    if kind == "wecom_app":
        return [u for u in str(body.get("touser", "")).split("|") if u]
    return [body["touser"]] if body.get("touser") else []


_MESSAGE_PATHS = {
    "/cgi-bin/message/template/send": ("template", False),
    "/cgi-bin/message/subscribe/bizsend": ("subscribe", False),
    "/cgi-bin/message/subscribe/send": ("subscribe", False),
    "/cgi-bin/message/custom/send": ("custom", False),
    "/cgi-bin/externalcontact/add_msg_template": ("wecom_group", True),
    "/cgi-bin/message/send": ("wecom_app", True),
}


def _handler_for(fake: FakeWeChat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK stall every keep-alive answer by about 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return {}

        def _qr_image(self, ticket: str) -> None:
            import segno

            qr = fake.state.qrcodes.get(ticket)
            if qr is None or (qr["expires_at"] is not None and qr["expires_at"] <= time.time()):
                return self._reply(404, {"errcode": 404, "errmsg": "invalid ticket"})
            buffer = io.BytesIO()
            segno.make(qr["url"], error="m").save(buffer, kind="png", scale=6, border=2)
            data = buffer.getvalue()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None

        def _authorize(self, query: dict[str, str]) -> None:
            """WeChat's OAuth page: for ``snsapi_base`` it redirects at once with a one-time code."""
            if query.get("appid") != fake.state.app_id:
                return self._reply(200, _error(40013))
            if query.get("scope") not in {"snsapi_base", "snsapi_userinfo"} or not query.get("redirect_uri"):
                return self._reply(200, _error(40029))
            openid = query.get("fake_openid") or fake.state.oauth_user
            if not openid:
                page = (
                    b"<!doctype html><meta charset=utf-8><title>Fake WeChat sign-in</title>"
                    b"<p>No WeChat user is signed in to the fake server. Add <code>&amp;fake_openid=...</code> to "
                    b"this address (an openid that scanned a binding QR), or POST /_fake/sign_in.</p>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return None
            code = secrets.token_urlsafe(24)
            with fake.state.lock:
                fake.state.oauth_codes[code] = {"openid": openid, "used": False, "expires_at": time.time() + 300}
            separator = "&" if "?" in query["redirect_uri"] else "?"
            location = f"{query['redirect_uri']}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None

        def _html(self, body: str) -> None:
            data = f"<!doctype html><meta charset=utf-8><title>Fake WeChat phone</title>{body}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _phone(self, query: dict[str, str]) -> None:
            """A simulated phone for the demo: be WeChat user ``openid``, scan the QR codes WeChat made, open
            the member card inside WeChat (OAuth signs in as this user)."""
            openid = query.get("openid", "")
            if not OPENID.match(openid):
                return self._html(
                    "<h1>Fake WeChat phone</h1><form><label>Your WeChat openid "
                    "<input name=openid value=oDemoCustomer01></label> <button>Use this phone</button></form>"
                )
            fake.sign_in(openid)
            site, ticket = fake.state.site_url, query.get("scan")
            result = ""
            if ticket:
                answer = fake.scan(
                    ticket=ticket,
                    openid=openid,
                    callback_url=f"{site}/wechat/callback",
                    token=fake.state.callback_token,
                )
                result = (
                    "<p><b>This QR code has expired: WeChat shows an error and sends nothing.</b></p>"
                    if answer is None
                    else f"<p><b>Scanned: WeChat told the shop (HTTP {answer.status_code}).</b></p>"
                )
            with fake.state.lock:
                codes = sorted(fake.state.qrcodes.items(), key=lambda kv: -(kv[1].get("created") or 0))[:10]
            rows = "".join(
                f"<li><code>{html.escape(qr['scene'])}</code> "
                f"<a href='?{urlencode({'openid': openid, 'scan': t})}'>scan this QR code</a></li>"
                for t, qr in codes
            )
            return self._html(
                f"<h1>Fake WeChat phone of <code>{html.escape(openid)}</code></h1>{result}"
                f"<h2>QR codes WeChat made (newest first)</h2><ul>{rows or '<li>none yet</li>'}</ul>"
                f"<h2>Inside WeChat</h2><p><a href='{html.escape(site)}/m/'>Open the member card</a> "
                "(the shop signs you in through WeChat OAuth as this user)</p>"
            )

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/cgi-bin/token":
                return self._reply(*fake.classic_token(query.get("appid", ""), query.get("secret", "")))
            if url.path == "/cgi-bin/gettoken":
                return self._reply(*fake.wecom_token(query.get("corpid", ""), query.get("corpsecret", "")))
            if url.path == "/cgi-bin/user/info":
                return self._reply(*_user_info(fake, query.get("access_token", ""), query.get("openid", "")))
            if url.path == "/cgi-bin/showqrcode":
                return self._qr_image(query.get("ticket", ""))
            if url.path == "/connect/oauth2/authorize":
                return self._authorize(query)
            if url.path == "/sns/oauth2/access_token":
                return self._reply(*_oauth_token(fake, query))
            if url.path == "/cgi-bin/externalcontact/get":
                return self._reply(
                    *_wecom_contact_get(fake, query.get("access_token", ""), query.get("external_userid", ""))
                )
            if url.path == "/_fake/phone":
                return self._phone(query)
            if url.path == "/_fake/messages":
                return self._reply(200, {"messages": fake.messages(query.get("kind"))})
            if url.path == "/_fake/stats":
                s = fake.state
                return self._reply(
                    200,
                    {
                        "token_fetches": s.token_fetches,
                        "stable_token_fetches": s.stable_token_fetches,
                        "requests": s.requests,
                        "messages": len(s.messages),
                    },
                )
            return self._reply(404, {"errcode": 404, "errmsg": "not found"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self._body()
            if url.path == "/cgi-bin/stable_token":
                return self._reply(*fake.stable_token_fetch(body))
            if url.path in _MESSAGE_PATHS:
                kind, wecom = _MESSAGE_PATHS[url.path]
                status, answer = fake.message(kind, query.get("access_token", ""), body, wecom=wecom)
                if status is None:  # an injected dropped connection: close it without an answer
                    self.close_connection = True
                    return None
                return self._reply(status, answer)
            if url.path == "/cgi-bin/qrcode/create":
                return self._reply(*_qrcode_create(fake, query.get("access_token", ""), body))
            if url.path == "/cgi-bin/externalcontact/unionid_to_external_userid":
                return self._reply(*_wecom_unionid_to_external(fake, query.get("access_token", ""), body))
            if url.path == "/_fake/sign_in":
                fake.sign_in(body.get("openid") or None)
                return self._reply(200, {"ok": True})
            if url.path == "/_fake/scan":
                answer = fake.scan(
                    ticket=body.get("ticket", ""),
                    openid=body.get("openid", ""),
                    callback_url=body.get("callback_url", ""),
                    token=body.get("token", ""),
                )
                return self._reply(
                    200, {"delivered": answer is not None, "status": getattr(answer, "status_code", None)}
                )
            if url.path == "/_fake/faults":
                for openid, errcode in (body.get("openid_errors") or {}).items():
                    fake.fail_openid(openid, int(errcode))
                fake.fail_next(*(body.get("next") or []))
                if "quota" in body:
                    fake.set_quota(body["quota"])
                if "delay_ms" in body:
                    fake.set_delay(int(body["delay_ms"]))
                if body.get("expire_tokens"):
                    fake.expire_tokens()
                return self._reply(200, {"ok": True})
            if url.path == "/_fake/reset":
                fake.reset()
                return self._reply(200, {"ok": True})
            return self._reply(404, {"errcode": 404, "errmsg": "not found"})

    return Handler
