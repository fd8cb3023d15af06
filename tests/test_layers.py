"""Apps depend downwards only: an app may import the apps below it in LAYERS, never one above.

Every module under apps/ is parsed with ``ast`` (so imports inside functions count too, and relative
imports are resolved against the module's package). Migrations are left out: the migration framework
links apps through their dependencies, not through imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LAYERS = ("core", "stores", "members", "catalog", "loyalty", "orders", "insights", "campaigns", "frontdesk")
APPS_DIR = Path(__file__).resolve().parent.parent / "apps"


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    importer: str
    imported: str
    target: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} ({self.importer}) imports {self.target} ({self.imported} is above it)"


def _imported_modules(tree: ast.AST, *, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``, relative ones resolved against ``package``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module == "apps":
                # ``from apps import orders`` (or ``from .. import orders`` inside apps.x) names the app.
                for alias in node.names:
                    yield node.lineno, f"apps.{alias.name}"
            else:
                yield node.lineno, module


def layer_violations(source: str, *, module: str, is_package: bool = False) -> list[Violation]:
    """The imports in ``source`` (the text of ``module``, e.g. ``apps.stores.demo``) of apps above its own."""
    importer = module.split(".")[1]
    package = module if is_package else module.rpartition(".")[0]
    violations = []
    for line, target in _imported_modules(ast.parse(source), package=package):
        parts = target.split(".")
        if parts[0] != "apps" or len(parts) < 2 or parts[1] not in LAYERS:
            continue
        if LAYERS.index(parts[1]) > LAYERS.index(importer):
            violations.append(Violation(module, line, importer, parts[1], target))
    return violations


def _app_modules() -> Iterator[tuple[Path, str, bool]]:
    for path in sorted(APPS_DIR.rglob("*.py")):
        relative = path.relative_to(APPS_DIR.parent).with_suffix("")
        if "migrations" in relative.parts or len(relative.parts) < 3:
            continue
        is_package = relative.name == "__init__"
        parts = relative.parts[:-1] if is_package else relative.parts
        yield path, ".".join(parts), is_package


def test_every_app_has_a_place_in_the_layers():
    apps = {p.name for p in APPS_DIR.iterdir() if (p / "__init__.py").exists()}
    assert apps - set(LAYERS) == set(), "add the new app to LAYERS (and to README's Architecture section)"


def test_apps_import_only_the_apps_below_them():
    modules = list(_app_modules())
    assert len(modules) > 50  # the walk found the apps
    violations = [
        str(v)
        for path, module, is_package in modules
        for v in layer_violations(path.read_text(encoding="utf-8"), module=module, is_package=is_package)
    ]
    assert violations == [], "imports against the layers " + " -> ".join(LAYERS) + ":\n" + "\n".join(violations)


# -- the checker itself can fail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "module", "is_package", "target"),
    [
        ("from apps.orders.models import Order\n", "apps.stores.demo", False, "apps.orders.models"),
        ("import apps.loyalty.selectors\n", "apps.members.views", False, "apps.loyalty.selectors"),
        ("def f():\n    from apps.frontdesk.pages import qr_svg\n", "apps.core.api", False, "apps.frontdesk.pages"),
        ("from ..orders.services import order_create\n", "apps.stores.demo", False, "apps.orders.services"),
        ("from ... import campaigns\n", "apps.insights.sub.mod", False, "apps.campaigns"),
        ("from .. import catalog\n", "apps.members", True, "apps.catalog"),
        ("from apps import stores\n", "apps.core.views", False, "apps.stores"),
    ],
)
def test_an_import_of_a_higher_app_is_reported(source, module, is_package, target):
    violations = layer_violations(source, module=module, is_package=is_package)

    assert [v.target for v in violations] == [target]
    assert module in str(violations[0]) and target in str(violations[0])


@pytest.mark.parametrize(
    ("source", "module", "is_package"),
    [
        ("from apps.core.money import quantize_money\nfrom apps.stores.models import Store\n", "apps.members.x", False),
        ("from .models import Order\nfrom . import selectors\n", "apps.orders.services", False),
        ("from .client import send\n", "apps.campaigns.wechat", True),
        ("def f():\n    from apps.insights.models import Tag\n", "apps.frontdesk.tag_views", False),
        ("import django.apps\nfrom django import apps\n", "apps.core.apps", False),
    ],
)
def test_downward_and_own_imports_pass(source, module, is_package):
    assert layer_violations(source, module=module, is_package=is_package) == []
