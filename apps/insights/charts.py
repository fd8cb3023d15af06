"""Tiny hand-written SVG charts for the console (no scripts, no CDN: the admin works offline)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.core.money import format_money
from apps.core.numbers import format_percent

WIDTH, HEIGHT, PAD = 360, 140, 28


def _num(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = Decimal(value)
    return float(value)


def _fmt(value: float, percent: bool, money: bool = False) -> str:
    if percent:
        return format_percent(Decimal(str(value)))
    if money:
        return format_money(Decimal(str(value)))
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def line_chart(
    labels: Sequence[str], values: Sequence, *, title: str, percent: bool = False, money: bool = False
) -> SafeString:
    """A trend line with a dot and value per point; missing values break the line; values shown as percentages
    or money when told."""
    nums = [_num(v) for v in values]
    present = [v for v in nums if v is not None]
    top = max(present, default=0) or 1
    step = (WIDTH - 2 * PAD) / max(len(nums) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD + i * step, HEIGHT - PAD - (v / top) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg class="kpi-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
    ]
    segment: list[str] = []
    for i, v in enumerate([*nums, None]):
        if v is None:
            if len(segment) > 1:
                parts.append(f'<polyline points="{" ".join(segment)}" class="line"/>')
            segment = []
            continue
        x, y = xy(i, v)
        segment.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot"><title>{escape(labels[i])}: '
                     f"{escape(_fmt(v, percent, money))}</title></circle>")  # fmt: skip
    for i, label in enumerate(labels):
        if i % 2 == len(labels) % 2 or len(labels) < 7:
            parts.append(f'<text x="{PAD + i * step:.1f}" y="{HEIGHT - 8}" class="label">{escape(label[-5:])}</text>')
    if present:
        last_i = max(i for i, v in enumerate(nums) if v is not None)
        x, y = xy(last_i, nums[last_i])
        shown = escape(_fmt(nums[last_i], percent, money))
        parts.append(f'<text x="{x:.1f}" y="{max(y - 6, 10):.1f}" class="value" text-anchor="end">{shown}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(
    items: Sequence[tuple[str, object]], *, title: str, percent: bool = False, money: bool = False
) -> SafeString:
    """Horizontal bars, one per (label, value), longest first as given."""
    nums = [(label, _num(v) or 0.0) for label, v in items]
    top = max((v for _, v in nums), default=0) or 1
    row = 18
    height = max(row * len(nums) + 8, 30)
    parts = [
        f'<svg class="kpi-bars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, v) in enumerate(nums):
        y = 4 + i * row
        w = (v / top) * (WIDTH - 170)
        parts.append(f'<text x="0" y="{y + 12}" class="label">{escape(label[:22])}</text>')
        parts.append(f'<rect x="120" y="{y}" width="{w:.1f}" height="{row - 5}" class="bar"/>')
        parts.append(f'<text x="{124 + w:.1f}" y="{y + 12}" class="value">{escape(_fmt(v, percent, money))}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
