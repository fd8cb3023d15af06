"""Message content with member variables: ``{name}``, ``{points}`` ... rendered at send time.

Content is plain text. For WeChat template and subscribe messages each ``field: text`` line becomes
one template field (``{"field": {"value": "text"}}``); for WeCom the whole text is the message.
Unknown variables are refused when an operator saves the content, so nothing half-rendered goes out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.translation import gettext as _

from .errors import InvalidContent

VARIABLES = (
    "name",
    "points",
    "expiring_points",
    "expiring_at",
    "coupon_code",
    "coupon_expires",
    "store",
    "tier",
    "code",
    "balance",
)
_PLACEHOLDER = re.compile(r"\{(\w*)\}")
_FIELD = re.compile(r"^\s*([A-Za-z][\w.]*)\s*:\s*(.*)$")


def content_variables(content: str) -> set[str]:
    return set(_PLACEHOLDER.findall(content or ""))


def content_validate(*, content: str, action: str) -> None:
    """Refuse unknown variables, and template content without any ``field: text`` line."""
    unknown = sorted(content_variables(content) - set(VARIABLES))
    if unknown:
        raise InvalidContent(
            _("Unknown variable(s): %(names)s. Known: %(known)s.")
            % {"names": ", ".join(f"{{{n}}}" for n in unknown), "known": ", ".join(f"{{{v}}}" for v in VARIABLES)},
            errors={"content": ["unknown variables"]},
        )
    if action in {"template", "subscribe"} and content.strip() and not template_fields(content):
        raise InvalidContent(
            _("A WeChat template message needs one 'field: text' line per template field."),
            errors={"content": ["no template fields"]},
        )


def render_text(text: str, variables: Mapping[str, object]) -> str:
    return _PLACEHOLDER.sub(
        lambda m: str(variables.get(m.group(1), "")) if m.group(1) in VARIABLES else m.group(0), text
    )


def template_fields(content: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for line in (content or "").splitlines() if (m := _FIELD.match(line))]


def render_payload(*, action: str, content: str, page: str, variables: Mapping[str, object]) -> dict:
    """The outbox payload for one member: template data, or WeCom text."""
    if action in {"template", "subscribe"}:
        data = {key: {"value": render_text(text, variables)[:200]} for key, text in template_fields(content)}
        payload: dict = {"data": data}
        if page:
            payload["url" if action == "template" else "page"] = page
        return payload
    return {"text": render_text(content, variables)}
