"""Merge hooks: apps that keep rows per member (loyalty, orders) move them to the survivor of a merge.

A hook is called inside the merge transaction as ``hook(survivor_id=..., merged_id=...)`` and returns a
short summary (e.g. ``{"orders": 3}``) for the merge audit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MergeHook = Callable[..., dict[str, Any] | None]
_HOOKS: list[MergeHook] = []


def register_merge_hook(hook: MergeHook) -> MergeHook:
    if hook not in _HOOKS:
        _HOOKS.append(hook)
    return hook


def merge_hooks() -> list[MergeHook]:
    return list(_HOOKS)
