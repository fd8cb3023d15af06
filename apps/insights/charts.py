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


def paired_bar_chart(items: Sequence[tuple[str, object, object]], *, title: str, legend: tuple[str, str]) -> SafeString:
    """Two vertical bars per label (e.g. predicted vs actual), with a legend; values printed above the bars."""
    nums = [(label, _num(a) or 0.0, _num(b) or 0.0) for label, a, b in items]
    top = max((max(a, b) for _, a, b in nums), default=0) or 1
    slot = (WIDTH - 2 * PAD) / max(len(nums), 1)
    bar = slot * 0.38
    plot = HEIGHT - 2 * PAD
    parts = [
        f'<svg class="kpi-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<rect x="{PAD}" y="4" width="8" height="8" class="bar"/><text x="{PAD + 11}" y="11" class="label">'
        f"{escape(legend[0])}</text>",
        f'<rect x="{PAD + 110}" y="4" width="8" height="8" class="bar-other"/><text x="{PAD + 121}" y="11" '
        f'class="label">{escape(legend[1])}</text>',
    ]
    for i, (label, a, b) in enumerate(nums):
        x0 = PAD + i * slot + slot * 0.1
        for j, (v, css) in enumerate(((a, "bar"), (b, "bar-other"))):
            h = v / top * (plot - 12)
            x = x0 + j * bar
            y = HEIGHT - PAD - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" class="{css}">'
                f"<title>{escape(label)} {escape(legend[j])}: {escape(_fmt(v, False))}</title></rect>"
            )
            parts.append(f'<text x="{x:.1f}" y="{y - 2:.1f}" class="value">{escape(_fmt(round(v, 2), False))}</text>')
        parts.append(f'<text x="{x0 + bar / 2:.1f}" y="{HEIGHT - 12}" class="label">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
