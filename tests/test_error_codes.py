"""Error codes: one registry (an ``ErrorCode`` enum) per app, every code unique across the project, and every
error a service raises carries a registered code."""

from __future__ import annotations

import importlib
import pkgutil

import apps
from apps.core.errors import DomainError, ErrorCode


def _import_every_module() -> None:
    for info in pkgutil.walk_packages(apps.__path__, "apps."):
        if ".migrations" in info.name or info.name.endswith((".demo", ".fake_server")):
            continue
        importlib.import_module(info.name)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_code_is_registered_once_across_the_project():
    _import_every_module()
    owners: dict[str, list[str]] = {}
    for registry in _subclasses(ErrorCode):
        for member in registry:
            owners.setdefault(member.value, []).append(f"{registry.__module__}.{registry.__name__}.{member.name}")
    duplicates = {code: where for code, where in owners.items() if len(where) > 1}
    assert duplicates == {}
    assert "coupon_min_spend" in owners and "member_not_found" in owners


def test_every_domain_error_uses_a_registered_code():
    _import_every_module()
    loose = [
        f"{cls.__module__}.{cls.__name__}: {cls.code!r}"
        for cls in _subclasses(DomainError)
        if not isinstance(cls.code, ErrorCode)
    ]
    assert loose == []
