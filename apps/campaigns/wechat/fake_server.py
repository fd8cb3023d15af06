"""A local fake of the WeChat Official Account and WeCom APIs, for tests and the demo.

Real HTTP on loopback, WeChat's paths, JSON bodies and error codes, so wechatpy and our sender are
exercised exactly as against WeChat. It records every accepted message and injects faults on request:
per-openid errors, the next N answers (errcodes, HTTP 500, slow answers), a message quota, expired tokens.
No Django needed: ``FakeWeChat().start()`` in tests, ``manage.py fake_wechat`` for the demo.

Control endpoints (also available in-process): ``GET /_fake/messages``, ``POST /_fake/faults``,
``POST /_fake/reset``.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
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
            keep = {k: getattr(self.state, k) for k in ("app_id", "app_secret", "corp_id", "corp_secret")}
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

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/cgi-bin/token":
                return self._reply(*fake.classic_token(query.get("appid", ""), query.get("secret", "")))
            if url.path == "/cgi-bin/gettoken":
                return self._reply(*fake.wecom_token(query.get("corpid", ""), query.get("corpsecret", "")))
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
